"""What a batch command (``analyze``, ``forensics``) writes as it goes, and its Ctrl-C.

One JSON line per file, on disk before the next file starts (an interrupted run keeps every line
written), and the closing summary line, worded the same for every command. :class:`BatchRun`
holds the run's JSON file and its first Ctrl-C for the ``with`` block, and undoes both after it.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

# The exit codes of every lte-inspect command: all done; some files (or a download) failed; a
# usage, model or case error; interrupted by Ctrl-C.
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def append_json_line(out: TextIO, record: dict[str, Any]) -> None:
    """Append one record as a JSON line and make it durable (flush + fsync)."""
    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    os.fsync(out.fileno())


def batch_summary(
    processed: int, total: int, failed: int, extras: Iterable[str] = (), *, interrupted: bool
) -> str:
    """``3 of 5 files processed, 1 failed[, <extra>…][ — interrupted]``; empty extras are left
    out, so a caller passes ``f"{n} skipped" if n else ""``."""
    parts = [f"{processed} of {total} files processed, {failed} failed", *filter(None, extras)]
    return ", ".join(parts) + (" — interrupted" if interrupted else "")


class BatchRun:
    """A batch's output file and interruption: ``with BatchRun(json_path) as run:``.

    Inside the block the first Ctrl-C only sets ``run.interrupted`` (the command cancels or
    finishes the running file, then stops) and ``run.write(record)`` appends a durable JSON line
    when a path was given. On leaving, the previous SIGINT handler is back and the file closed.
    Use it from the main thread (signal handlers can only be set there).
    """

    def __init__(self, json_path: str | Path | None) -> None:
        self.json_path = json_path
        self.interrupted = False
        self._out: TextIO | None = None
        self._previous: Any = None

    def is_interrupted(self) -> bool:
        """For the pipeline's and the analyses' ``is_cancelled`` callbacks."""
        return self.interrupted

    def write(self, record: dict[str, Any]) -> None:
        if self._out is not None:
            append_json_line(self._out, record)

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True

    def __enter__(self) -> BatchRun:
        if self.json_path:
            self._out = open(self.json_path, "a", encoding="utf-8")  # noqa: SIM115
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc_info) -> None:
        signal.signal(signal.SIGINT, self._previous)
        if self._out is not None:
            self._out.close()
            self._out = None
