"""The analysis worker: one long-lived QThread that owns the loaded model.

`AnalysisWorker` lives in the thread and runs `inspector.core.pipeline.Pipeline` synchronously;
`WorkerHost` (GUI thread) owns the thread and relays every worker signal (declared once, in
`WorkerReports`) to the GUI thread, so any receiver (a slot, a lambda, a model) runs there;
`AnalysisQueue` (GUI thread) feeds the host one image at a time, or a batch of images whose
model turns run together (batch mode, `inspector.core.batch_pipeline`), and reports each image's
state.

No model logic lives here: the backend comes from a zero-argument factory and the pipeline does
the work. Cancellation is a `threading.Event` the pipeline polls between generated tokens.

Shutting down (docs/decisions/0005-clean-shutdown.md): `WorkerHost.shutdown` cancels the running
analysis and waits a bounded time; a model load cannot be interrupted, so it does not wait for one
and keeps the still-running thread referenced instead (Qt aborts the process when a running
QThread is destroyed). The application's `main()` ends with `finish_process`, which leaves with
`os._exit` after flushing when such a thread still runs; anyone else's interpreter waits for it at
exit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from inspector.core.backends.base import Backend, BackendError
from inspector.core.batch import run_concurrently
from inspector.core.batch_pipeline import batch_size_for, batched_for
from inspector.core.batch_size import BatchSizeChoice
from inspector.core.closeups import CloseupPolicy
from inspector.core.imageio import ImageLoadError
from inspector.core.pipeline import AnalysisCancelled, Pipeline, PipelineOptions

log = logging.getLogger(__name__)

BackendFactory = Callable[[], Backend]

# Item states reported by AnalysisQueue.state_changed.
QUEUED = "queued"
ANALYSING = "analysing"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (QUEUED, ANALYSING, DONE, FAILED, CANCELLED)

# Threads that had not stopped when shutdown() returned. Destroying a running QThread aborts the
# process ("QThread: Destroyed while thread is still running") -- and PySide destroys every
# Python-owned QObject when the interpreter exits -- so they are kept alive here until they end;
# `finish_process` (the app) or `_wait_for_unstopped` (an atexit hook, anyone else) deals with them.
_UNSTOPPED: list[tuple[QThread, QObject]] = []
_EXIT_HOOK: list[bool] = []  # set once the atexit hook is registered


def _keep_until_finished(thread: QThread, worker: QObject) -> None:
    _UNSTOPPED[:] = [(t, w) for t, w in _UNSTOPPED if t.isRunning()]  # drop (destroy) ended ones
    _UNSTOPPED.append((thread, worker))
    if not _EXIT_HOOK:
        # Registered now, after PySide registered its own exit hook (atexit runs hooks in reverse
        # order), so the threads are waited for before PySide destroys the QThread objects.
        atexit.register(_wait_for_unstopped)
        _EXIT_HOOK.append(True)


def running_unstopped() -> int:
    """How many worker threads left running by `WorkerHost.shutdown` still run."""
    return sum(1 for thread, _ in _UNSTOPPED if thread.isRunning())


def _wait_for_unstopped() -> None:
    """At interpreter exit: let every left-running worker thread end before anything is destroyed.

    Only reached when `finish_process` was not used (tests, scripts that embed the window). The
    thread is finishing a model load (or one long forward pass) after being told to stop; its
    event loop has been told to quit, so it ends as soon as that returns.
    """
    if running_unstopped():
        with contextlib.suppress(Exception):
            print("LTE Inspector: waiting for the model load to finish before exiting…",
                  file=sys.stderr, flush=True)
        for thread, _ in _UNSTOPPED:
            thread.wait()  # releases the GIL: the thread's Python code runs on
    _UNSTOPPED.clear()


def finish_process(code: int) -> int:
    """End of the application's main(), after its event loop returned: `code`, or no return.

    When every worker thread has stopped, returns `code` and the interpreter exits as usual. When
    one still runs -- it is finishing a model load (or one long forward pass), which cannot be
    interrupted and whose result nobody wants -- the interpreter must not finalize under it
    (PySide would destroy the running QThread and Qt abort the process), and the user must not
    wait minutes for a model they closed. So this does what a normal exit would do for what
    matters -- joins the Python threads, whose pending work (case writes) thus reaches the disk,
    shuts logging down, flushes the standard streams -- and ends the process at once with
    `os._exit(code)`.
    """
    if not running_unstopped():
        return code
    log.info("the model is still loading; leaving without waiting for it")
    try:
        join_threads = getattr(threading, "_shutdown", None)  # what interpreter exit calls
        if join_threads is not None:
            join_threads()
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.flush()
    finally:
        os._exit(code)


def failure_message(exc: BaseException) -> str:
    """What to tell the user about an exception raised while loading or analysing."""
    if isinstance(exc, ImageLoadError):
        return exc.message  # the item already names the file
    if isinstance(exc, BackendError):  # includes OutOfMemoryError, whose message says what to do
        return str(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        detail = str(exc)
        return f"out of memory: {detail}" if detail else "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"could not read a file{where}: {exc.strerror}"
    return f"internal error: {type(exc).__name__}: {exc}"


def _is_expected(exc: BaseException) -> bool:
    return isinstance(exc, ImageLoadError | BackendError)


def _batch_choice(backend: Backend, requested: int | None) -> BatchSizeChoice:
    """The batch size for the window's queue; a failed memory query means one at a time."""
    try:
        return batch_size_for(backend, requested)
    except Exception as exc:  # noqa: BLE001 - batching is an optimisation, never a failure
        log.warning("could not choose a batch size: %s", exc)
        return BatchSizeChoice(1, f"one at a time (the batch size could not be chosen: {exc})")


class WorkerReports(QObject):
    """What the worker reports, declared once.

    The worker emits these in its own thread (a receiver connected with DirectConnection runs
    there); `WorkerHost` has the same signals and relays each one to its own twin, a queued
    signal-to-signal connection, so the host's copies are emitted in the GUI thread and every
    receiver connected to the host -- slot, lambda or model -- runs there.
    """

    loading = Signal(str)  # status text while loading (including the memory-check message)
    loaded = Signal(object)  # ModelProvenance
    load_failed = Signal(str)
    pipeline_event = Signal(str, object)  # path, pipeline event
    finished = Signal(str, object)  # path, Analysis
    failed = Signal(str, str)  # path, message
    cancelled = Signal(str)  # path


class AnalysisWorker(WorkerReports):
    """Runs in the worker thread. Every slot catches its errors: the thread never dies."""

    def __init__(self) -> None:
        super().__init__()
        self.backend: Backend | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._last_job = 0  # highest job id handed out
        self._started = 0  # highest job id started
        self._running = False
        self._doomed: set[int] = set()  # jobs cancelled before they started
        self._closing = False
        self._loading = False  # a factory runs (cannot be interrupted)
        self.batch_choice = BatchSizeChoice(1, "no model is loaded")  # set before `loaded`
        self.requested_batch_size: int | None = None  # None: chosen from free memory

    # -- called from any thread -----------------------------------------------------------------

    def reserve_job(self) -> int:
        """A job id for an analysis about to be submitted (ids run in submission order)."""
        with self._lock:
            self._last_job += 1
            return self._last_job

    def cancel(self) -> None:
        """Cancel the running analysis (within one token) or, when none runs, the next one."""
        with self._lock:
            if self._running:
                self._cancel.set()
            elif self._last_job > self._started:
                self._doomed.add(self._started + 1)

    def close(self) -> bool:
        """Refuse further work and cancel what runs (used by WorkerHost.shutdown).

        Returns True when a model load is under way: it cannot be interrupted, and the backend
        it makes will be dropped, not kept.
        """
        with self._lock:
            self._closing = True
            self._cancel.set()
            return self._loading

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- slots (worker thread) ------------------------------------------------------------------

    @Slot(object)
    def load_backend(self, factory: BackendFactory) -> None:
        with self._lock:
            if self._closing:
                return
            self._loading = True
        backend = None
        failure: Exception | None = None
        try:
            self.loading.emit("Loading the model…")
            self.backend = None  # free the previous model before loading the next one
            try:
                backend = factory()
            except Exception as exc:
                failure = exc
        finally:
            # The load is over before its outcome is announced (below): a window closed on the
            # news must not find it still under way and leave the thread to end on its own.
            with self._lock:
                self._loading = False
                kept = failure is None and not self._closing
                if kept:
                    self.backend = backend
        if failure is not None:
            if not _is_expected(failure):
                log.error("loading the model failed", exc_info=failure)
            self.load_failed.emit(failure_message(failure))
        elif kept:  # else shut down while loading: nobody will use this model
            self.batch_choice = _batch_choice(backend, self.requested_batch_size)
            self.loaded.emit(getattr(backend, "provenance", None))

    @Slot(int, str, object)
    def analyze_job(self, job: int, path: str, options: PipelineOptions) -> None:
        """Analyse one image; the job id (from `reserve_job`) lets a cancel reach it before it
        starts."""
        self._run(job, path, options)

    @Slot(int, list, object, int)
    def analyze_batch_job(self, job: int, paths: list[str], options: PipelineOptions,
                          batch_size: int) -> None:
        """Analyse several images together, their model turns batched (batch mode); each image
        is reported on its own, as `analyze_job` reports one. Cancel stops them all."""
        if not self._begin(job):
            for path in paths:
                self.cancelled.emit(path)
            return
        try:
            if self.backend is None:
                for path in paths:
                    self.failed.emit(path, "no model is loaded; load a model first")
                return
            pipeline, choice = batched_for(Pipeline(self.backend, options), batch_size)

            def analyze_one(path: Path) -> Any:
                return pipeline.analyze(
                    path, lambda event: self.pipeline_event.emit(str(path), event),
                    self._cancel.is_set,
                )

            run_concurrently(analyze_one, [Path(p) for p in paths], choice.size,
                             lambda path, analysis, error: self._report(str(path), analysis,
                                                                        error))
        finally:
            with self._lock:
                self._running = False

    def _begin(self, job: int) -> bool:
        """Start job `job` unless it was cancelled before it started or the worker closes."""
        with self._lock:
            self._started = max(self._started, job)
            skip = self._closing or job in self._doomed
            self._doomed.discard(job)
            if not skip:
                self._cancel.clear()
                self._running = True
        return not skip

    def _report(self, path: str, analysis: Any, error: BaseException | None) -> None:
        if isinstance(error, AnalysisCancelled):
            self.cancelled.emit(path)
        elif error is not None:
            if not _is_expected(error):
                log.error("analysis of %s failed", path, exc_info=error)
            self.failed.emit(path, failure_message(error))
        else:
            self.finished.emit(path, analysis)

    def _run(self, job: int, path: str, options: PipelineOptions) -> None:
        if not self._begin(job):
            self.cancelled.emit(path)
            return
        try:
            if self.backend is None:
                self.failed.emit(path, "no model is loaded; load a model first")
                return
            pipeline = Pipeline(self.backend, options)
            analysis = pipeline.analyze(
                path, lambda event: self.pipeline_event.emit(path, event), self._cancel.is_set
            )
        except Exception as exc:
            self._report(path, None, exc)
        else:
            self._report(path, analysis, None)
        finally:
            with self._lock:
                self._running = False


class WorkerHost(WorkerReports):
    """Owns the worker thread (GUI thread side); the worker's reports are emitted again here."""

    # `loaded` and `load_failed` go through a slot that records the model's state first (and
    # drops them once the host is shut down); the other reports are relayed as they are.
    _RELAYED_AS_IS = ("loading", "pipeline_event", "finished", "failed", "cancelled")
    _load_requested = Signal(object)
    _analyze_requested = Signal(int, str, object)
    _analyze_batch_requested = Signal(int, list, object, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Neither object gets a Qt parent: Qt must never delete the thread while it runs.
        self._thread = QThread()
        self._thread.setObjectName("lte-analysis")
        self.worker = AnalysisWorker()
        self.worker.moveToThread(self._thread)
        self._load_requested.connect(self.worker.load_backend)
        self._analyze_requested.connect(self.worker.analyze_job)
        self._analyze_batch_requested.connect(self.worker.analyze_batch_job)
        for name in self._RELAYED_AS_IS:
            getattr(self.worker, name).connect(getattr(self, name))
        self.worker.loaded.connect(self._on_loaded)
        self.worker.load_failed.connect(self._on_load_failed)
        self.model = None  # ModelProvenance of the loaded model
        self.model_state = "none"  # none | loading | loaded | failed
        self._started = False
        self._shut_down = False

    @property
    def thread_handle(self) -> QThread:
        return self._thread

    @property
    def is_ready(self) -> bool:
        """A model is loaded and the worker accepts work."""
        return self.model_state == "loaded" and not self._shut_down

    def start(self) -> None:
        if self._shut_down:
            raise RuntimeError("the analysis worker was shut down")
        if self._started:
            return
        self._started = True
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def load(self, factory: BackendFactory) -> None:
        """Load a model in the worker (replacing the current one): loading, then loaded/failed."""
        self.start()
        self.model_state = "loading"
        self.model = None
        self._load_requested.emit(factory)

    def report_loading(self, text: str) -> None:
        """Thread-safe: emit `loading(text)`; pass it as the backend's `on_message`."""
        self.worker.loading.emit(text)

    def submit(self, path: str | Path, options: PipelineOptions) -> int:
        """Queue one analysis in the worker; returns its job id."""
        self.start()
        job = self.worker.reserve_job()
        self._analyze_requested.emit(job, str(path), options)
        return job

    def submit_batch(self, paths: list[str], options: PipelineOptions) -> int:
        """Queue several analyses run together (batch mode); returns the batch's job id."""
        self.start()
        job = self.worker.reserve_job()
        self._analyze_batch_requested.emit(job, list(paths), options, len(paths))
        return job

    @property
    def batch_size(self) -> BatchSizeChoice:
        """How many queued images to analyse together with the loaded model, and why."""
        return self.worker.batch_choice

    def set_requested_batch_size(self, size: int | None) -> None:
        """The examiner's batch size (None: from free memory); applies to the next batch."""
        self.worker.requested_batch_size = size
        backend = self.worker.backend
        if backend is not None:
            self.worker.batch_choice = _batch_choice(backend, size)

    def cancel_current(self) -> None:
        self.worker.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the worker (call on window close); True when its thread has ended.

        Refuses further work, cancels the running analysis (it stops within one generated
        token) and waits at most `timeout_ms` for the thread. A model load cannot be
        interrupted, so shutdown does not wait for one: its model is dropped when it arrives.
        Never blocks longer than that and never lets Qt destroy a running thread: one still
        running is kept referenced until it ends (see `finish_process`). Idempotent.
        """
        if self._shut_down:
            return not self._thread.isRunning()
        self._shut_down = True
        self.model_state = "none"
        if not self._started:
            return True
        # Under the worker's lock: either a load has begun (and is reported here) or it will
        # see the closing flag and not begin, so a load is never waited for.
        loading = self.worker.close()
        self._thread.quit()
        stopped = bool(self._thread.wait(0 if loading else max(0, timeout_ms)))
        if stopped:
            self.worker.backend = None  # free the model now, not whenever the host is collected
        else:
            if loading:
                log.info("the model is still loading; its thread is left to finish on its own")
            else:
                log.warning("the analysis thread did not stop within %d ms", timeout_ms)
            _keep_until_finished(self._thread, self.worker)
        return stopped

    # -- from the worker (queued to the GUI thread) ---------------------------------------------

    @Slot(object)
    def _on_loaded(self, provenance: Any) -> None:
        if self._shut_down:
            return  # arrived after the shutdown: nothing will use it
        self.model, self.model_state = provenance, "loaded"
        self.loaded.emit(provenance)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        if self._shut_down:
            return
        self.model, self.model_state = None, "failed"
        self.load_failed.emit(message)


class AnalysisQueue(QObject):
    """Pending images, run through a WorkerHost: one at a time, or in batches of the host's
    batch size (images with the same options, their model turns batched).

    An image is submitted only once a model is loaded. A failed or cancelled image does not stop
    the queue; `stop_after_current()` does (after the running batch), until `resume()`.
    """

    state_changed = Signal(str, str)  # path, one of STATES
    item_finished = Signal(str, object)  # path, Analysis
    item_failed = Signal(str, str)  # path, message
    queue_idle = Signal()  # the last image ended and nothing more will start

    def __init__(
        self,
        host: WorkerHost,
        options: PipelineOptions | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.options = options or PipelineOptions(policy=CloseupPolicy())
        self._pending: deque[tuple[str, PipelineOptions]] = deque()
        self._running: list[str] = []
        self._stopped = False
        host.loaded.connect(self._on_loaded)
        host.finished.connect(self._on_finished)
        host.failed.connect(self._on_failed)
        host.cancelled.connect(self._on_cancelled)

    @property
    def running(self) -> list[str]:
        """The images being analysed now (several in batch mode), in queue order."""
        return list(self._running)

    @property
    def pending(self) -> list[str]:
        return [path for path, _ in self._pending]

    @property
    def is_stopped(self) -> bool:
        return self._stopped

    @property
    def is_busy(self) -> bool:
        return bool(self._running)

    def add(self, paths: Iterable[str | Path], options: PipelineOptions | None = None) -> list[str]:
        """Queue images (ones already queued or running are skipped); returns those added."""
        added = []
        for p in paths:
            path = str(p)
            if path in self._running or path in self.pending or path in added:
                continue
            self._pending.append((path, options or self.options))
            added.append(path)
            self.state_changed.emit(path, QUEUED)
        self._start_next(after_item=False)
        return added

    def clear_pending(self) -> None:
        while self._pending:
            path, _ = self._pending.popleft()
            self.state_changed.emit(path, CANCELLED)

    def stop_after_current(self) -> None:
        self._stopped = True

    def resume(self) -> None:
        self._stopped = False
        self._start_next(after_item=False)

    def cancel_current(self) -> None:
        """Cancel what runs: the image, or every image of the running batch."""
        if self._running:
            self.host.cancel_current()

    def _start_next(self, after_item: bool) -> None:
        if self._running:
            return
        if self._pending and not self._stopped and self.host.is_ready:
            path, options = self._pending.popleft()
            batch = [path]
            while (len(batch) < self.host.batch_size.size and self._pending
                   and self._pending[0][1] == options):
                batch.append(self._pending.popleft()[0])
            self._running = batch
            for each in batch:
                self.state_changed.emit(each, ANALYSING)
            if len(batch) == 1:
                self.host.submit(path, options)
            else:
                self.host.submit_batch(batch, options)
        elif after_item:
            self.queue_idle.emit()

    def _end(self, path: str, state: str) -> bool:
        if path not in self._running:
            return False  # not ours (someone else submitted to the host directly)
        self._running.remove(path)
        self.state_changed.emit(path, state)
        return True

    @Slot(object)
    def _on_loaded(self, _provenance: Any) -> None:
        self._start_next(after_item=False)

    @Slot(str, object)
    def _on_finished(self, path: str, analysis: Any) -> None:
        if self._end(path, DONE):
            self.item_finished.emit(path, analysis)
            self._start_next(after_item=True)

    @Slot(str, str)
    def _on_failed(self, path: str, message: str) -> None:
        if self._end(path, FAILED):
            self.item_failed.emit(path, message)
            self._start_next(after_item=True)

    @Slot(str)
    def _on_cancelled(self, path: str) -> None:
        if self._end(path, CANCELLED):
            self._start_next(after_item=True)
