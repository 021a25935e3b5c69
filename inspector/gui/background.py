"""One generic way to run plain functions off the GUI thread and get their results back on it.

``Background.submit(fn, *args, on_done=..., on_error=...)`` runs ``fn`` on a worker thread; the
callbacks run later on the GUI thread (a queued signal carries them). Used for everything slow
the window does besides the model: hashing and decoding evidence, previews, detail tiles,
thumbnails and case writes. The model runs in its own long-lived thread (worker.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]


class _Postman(QObject):
    """Carries jobs from worker threads to the GUI thread, where it lives; never deleted while
    the application runs.

    Workers used to emit their results on the Background itself, a QObject a window owns: when
    the window was torn down while a task finished, the worker emitted on an object whose C++
    side was being destroyed and the process died (a segmentation fault, seen in CI twice, the
    second time after a lock had serialised closing and posting — Qt reports the deletion only
    once the destructor is under way). Emitting on this object is always safe, and whether the
    Background is still alive is decided on the GUI thread, where deletion happens too.
    """

    posted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.posted.connect(self._run)

    @Slot(object)
    def _run(self, job: Callable[[], None]) -> None:
        job()


_postman: _Postman | None = None


def _the_postman() -> _Postman:
    """The postman, made on the first call (from the GUI thread, in ``Background.__init__``);
    made again if the application that owned it is gone (tests make several)."""
    global _postman
    if _postman is None or not shiboken6.isValid(_postman):
        _postman = _Postman()
        app = QCoreApplication.instance()
        if app is not None and _postman.thread() is not app.thread():
            _postman.moveToThread(app.thread())
    return _postman


class Background(QObject):
    """A thread pool whose results come back to the GUI thread."""

    def __init__(self, workers: int, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._postman = _the_postman()
        self._open = True

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
    ) -> Future | None:
        """Run ``fn(*args)`` on a worker thread; None when already shut down (window closing)."""
        if not self._open:
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
        self.relay(lambda: self._deliver((on_done, on_error), result, exc))

    def relay(self, job: Callable[[], None]) -> None:
        """Run ``job`` (e.g. a signal emission) on the GUI thread unless this runner is shut down
        or deleted by then; from a worker thread, for results and for what a task hands over
        while it runs. The job's objects must be ones whose closing shuts this runner down or
        deletes it (its parent, or the window)."""
        if self._open:
            self._postman.posted.emit(lambda: self._still_open() and job())

    def _still_open(self) -> bool:
        """On the GUI thread: the runner is neither shut down nor deleted with its parent."""
        return shiboken6.isValid(self) and self._open

    def _deliver(self, callbacks: tuple, result: Any, exc: BaseException | None) -> None:
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
        self._open = False
        self._pool.shutdown(wait=wait, cancel_futures=drop_pending)
