"""What a batch command (``analyze``, ``forensics``) writes as it goes.

One JSON line per file, on disk before the next file starts (an interrupted run keeps every line
written), and the closing summary line, worded the same for every command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, TextIO


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
