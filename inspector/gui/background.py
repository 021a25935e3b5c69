"""One generic way to run plain functions off the GUI thread and get their results back on it.

``Background.submit(fn, *args, on_done=..., on_error=...)`` runs ``fn`` on a worker thread; the
callbacks run later on the GUI thread (a queued signal carries them). Used for everything slow
the window does besides the model: hashing and decoding evidence, previews, detail tiles,
thumbnails and case writes. The model runs in its own long-lived thread (worker.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]


class _Gate:
    """Whether results may still be posted, guarded by a lock the worker holds while posting.

    A worker posts a result by emitting a signal on the Background, a QObject that lives on the
    GUI thread. Emitting on one whose C++ side is being destroyed (its window closed while a
    task still ran) crashed the process (a segmentation fault, not a Python error), so closing
    and posting are serialised: once closed, nothing is posted again.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = True

    def close(self, *_: object) -> None:
        with self.lock:
            self.open = False


class Background(QObject):
    """A thread pool whose results come back to the GUI thread."""

    _delivered = Signal(object, object, object)  # (on_done, on_error), result, exception

    def __init__(self, workers: int, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._delivered.connect(self._deliver)
        self._gate = _Gate()
        # a parent deleted without shutdown() (a widget torn down) closes the gate too; the
        # callback holds the gate only, never self
        self.destroyed.connect(self._gate.close)

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
    ) -> Future | None:
        """Run ``fn(*args)`` on a worker thread; None when already shut down (window closing)."""
        if not self._gate.open:
            return None
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._finished(f, on_done, on_error))
        return future

    def _finished(self, future: Future, on_done: Callback | None, on_error: Callback | None):
        if future.cancelled():
            return
        exc = future.exception()
        if on_done is None and on_error is None:  # nobody waits: only a failure is worth a line
            if exc is not None:
                log.error("background task failed", exc_info=exc)
            return
        result = None if exc else future.result()
        # nothing once the window is gone: nobody waits for this
        self.relay(lambda: self._delivered.emit((on_done, on_error), result, exc))

    def relay(self, emit: Callable[[], None]) -> None:
        """Call ``emit`` (a signal emission, from a worker thread) unless the runner is closed;
        also for what a task hands over while it runs. The signal's owner must be one whose
        closing shuts this runner down (its parent, or the window)."""
        with self._gate.lock:
            if self._gate.open:
                with contextlib.suppress(RuntimeError):  # deleted without shutdown()
                    emit()

    @Slot(object, object, object)
    def _deliver(self, callbacks: tuple, result: Any, exc: BaseException | None) -> None:
        if not self._gate.open:
            return
        on_done, on_error = callbacks
        if exc is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(exc)
        else:
            log.error("background task failed", exc_info=exc)

    def wait_idle(self) -> None:
        """Block until every task submitted so far has run (results are delivered later)."""
        self._pool.submit(lambda: None).result()

    def shutdown(self, wait: bool = True, drop_pending: bool = False) -> None:
        """Stop delivering results; optionally drop tasks not yet started and wait for the rest.

        Case writes keep ``drop_pending=False``: whatever was submitted reaches the disk.
        """
        self._gate.close()
        self._pool.shutdown(wait=wait, cancel_futures=drop_pending)
