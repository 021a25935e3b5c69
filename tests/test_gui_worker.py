"""The analysis worker thread, the queue and the queue/batch item models (pytest-qt, offscreen).

The worker runs the real pipeline on the tiny taught Qwen2.5-VL (`taught_case`), so the events,
cancellation and the model's reuse are tested on real model output.
"""

from __future__ import annotations

import gc
import logging
import shutil
import threading
import time

import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QObject, QSize, Qt, QThread, Slot  # noqa: E402

from inspector.core.backends.base import (  # noqa: E402
    BackendError,
    GenerationSettings,
    OutOfMemoryError,
    TurnResult,
)
from inspector.core.backends.local import LocalBackend, LocalModelSpec  # noqa: E402
from inspector.core.geometry import coordinate_space_for  # noqa: E402
from inspector.core.pipeline import (  # noqa: E402
    Cancelled,
    Done,
    FinalVerdict,
    ImageLoaded,
    InitialVerdict,
    TokenGenerated,
)
from inspector.core.results import (  # noqa: E402
    Analysis,
    Evidence,
    FindingRecord,
    ModelProvenance,
    QueryRecord,
    RegionRecord,
)
from inspector.gui.models import (  # noqa: E402
    BatchFilterProxy,
    BatchTableModel,
    QueueModel,
    thumbnail_image,
)
from inspector.gui.worker import AnalysisQueue, WorkerHost  # noqa: E402

SETTINGS = GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400)
LONG = 30_000  # ms; generous ceilings for a loaded CI machine, normally reached in < 1 s


@pytest.fixture
def host(qtbot):
    h = WorkerHost()
    h.start()
    yield h
    assert h.shutdown(5000)


def taught_factory(taught_case, host, calls: list):
    def factory():
        backend = LocalBackend(
            LocalModelSpec(source=str(taught_case.model_dir), device="cpu", hash_weights=False),
            SETTINGS,
            on_message=host.report_loading,
        )
        calls.append(backend)
        return backend

    return factory


def record_states(queue) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    queue.state_changed.connect(lambda path, state: states.setdefault(path, []).append(state))
    return states


class GuiThreadRecorder(QObject):
    """Records pipeline events with the thread they were delivered in."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, object, bool]] = []

    @Slot(str, object)
    def on_event(self, path, event) -> None:
        self.events.append((path, event, QThread.currentThread() is self.thread()))

    def of(self, path) -> list:
        return [e for p, e, _ in self.events if p == path]


# --------------------------------------------------------------------------------------------
# Worker and queue on the taught model
# --------------------------------------------------------------------------------------------


def test_loads_once_and_analyses_in_a_row(host, qtbot, taught_case, tmp_path):
    first = str(taught_case.image_path)
    second = str(tmp_path / "second copy.jpg")
    shutil.copy(first, second)
    calls: list = []
    queue = AnalysisQueue(host)
    states = record_states(queue)
    recorder = GuiThreadRecorder()
    host.pipeline_event.connect(recorder.on_event)
    lambda_threads = []
    host.pipeline_event.connect(lambda p, e: lambda_threads.append(threading.current_thread()))
    loading, finished = [], []
    host.loading.connect(loading.append)
    queue.item_finished.connect(lambda path, analysis: finished.append((path, analysis)))

    with qtbot.waitSignal(host.loaded, timeout=LONG) as loaded:
        host.load(taught_factory(taught_case, host, calls))
        # queued before the model is ready: they wait for it instead of failing
        assert queue.add([first, second]) == [first, second]
        assert queue.running == [] and queue.pending == [first, second]
    assert loaded.args[0].model_id == str(taught_case.model_dir)
    assert loading and loading[0] == "Loading the model…"
    with qtbot.waitSignal(queue.queue_idle, timeout=LONG):
        pass

    assert len(calls) == 1 and host.worker.backend is calls[0]  # loaded once, reused
    assert states == {first: ["queued", "analysing", "done"],
                      second: ["queued", "analysing", "done"]}
    assert [p for p, _ in finished] == [first, second]
    for _, analysis in finished:
        assert analysis.initial_verdict == "real"
        assert analysis.final_verdict == "ai-generated"
        assert analysis.changed is True
    # every event was delivered in the GUI thread, in order
    assert recorder.events and all(in_gui for _, _, in_gui in recorder.events)
    assert set(lambda_threads) == {threading.main_thread()}
    for path in (first, second):
        kinds = [type(e) for e in recorder.of(path)]
        assert kinds.index(ImageLoaded) < kinds.index(TokenGenerated)
        assert kinds.index(InitialVerdict) < kinds.index(FinalVerdict)
        assert kinds[-2:] == [FinalVerdict, Done]


def test_bad_file_fails_readably_and_the_queue_goes_on(host, qtbot, taught_case, tmp_path):
    broken = tmp_path / "notes.jpg"
    broken.write_text("this is not a picture")
    queue = AnalysisQueue(host)
    states = record_states(queue)
    failures = []
    queue.item_failed.connect(lambda path, message: failures.append((path, message)))
    with qtbot.waitSignal(host.loaded, timeout=LONG):
        host.load(taught_factory(taught_case, host, []))
    with qtbot.waitSignal(queue.queue_idle, timeout=LONG):
        queue.add([broken, taught_case.image_path])

    assert states[str(broken)] == ["queued", "analysing", "failed"]
    assert states[str(taught_case.image_path)] == ["queued", "analysing", "done"]
    [(path, message)] = failures
    assert path == str(broken)
    assert "not an image" in message and "internal error" not in message


def test_cancel_during_query1_moves_on_to_the_next_image(host, qtbot, taught_case, tmp_path):
    first = str(tmp_path / "cancel me.jpg")
    shutil.copy(taught_case.image_path, first)
    second = str(taught_case.image_path)
    queue = AnalysisQueue(host)
    states = record_states(queue)
    with qtbot.waitSignal(host.loaded, timeout=LONG):
        host.load(taught_factory(taught_case, host, []))

    # Cancel from the worker thread at the 3rd token: deterministic however fast the model is.
    # (cancel_current() is thread-safe; the GUI calls it from its own thread.)
    seen: list = []

    def on_event(path, event):
        if path != first:
            return
        seen.append(event)
        if isinstance(event, TokenGenerated) and sum(
            isinstance(e, TokenGenerated) for e in seen
        ) == 3:
            queue.host.cancel_current()

    host.worker.pipeline_event.connect(on_event, Qt.ConnectionType.DirectConnection)
    finished = []
    queue.item_finished.connect(lambda path, analysis: finished.append(path))
    with qtbot.waitSignal(queue.queue_idle, timeout=LONG):
        queue.add([first, second])

    assert states[first] == ["queued", "analysing", "cancelled"]
    assert states[second] == ["queued", "analysing", "done"]
    assert finished == [second]
    tokens = [e for e in seen if isinstance(e, TokenGenerated)]
    assert 3 <= len(tokens) <= 4  # stopped within one generated token
    assert all(e.query == 1 for e in tokens)
    assert not any(isinstance(e, InitialVerdict) for e in seen)
    assert isinstance(seen[-1], Cancelled)


def test_stop_after_current_holds_the_queue_until_resumed(host, qtbot, taught_case, tmp_path):
    paths = []
    for name in ("a.jpg", "b.jpg"):
        paths.append(str(tmp_path / name))
        shutil.copy(taught_case.image_path, paths[-1])
    queue = AnalysisQueue(host)
    states = record_states(queue)
    with qtbot.waitSignal(host.loaded, timeout=LONG):
        host.load(taught_factory(taught_case, host, []))
    with qtbot.waitSignal(queue.queue_idle, timeout=LONG):
        queue.add(paths)
        queue.stop_after_current()
    assert states[paths[0]][-1] == "done"
    assert states[paths[1]] == ["queued"] and queue.pending == [paths[1]]
    with qtbot.waitSignal(queue.queue_idle, timeout=LONG):
        queue.resume()
    assert states[paths[1]][-1] == "done"


def test_shutdown_while_analysing_stops_the_thread(qtbot, qtlog, tiny_model_dir, photo_path):
    host = WorkerHost()
    # an untrained model writing up to 3000 tokens: many seconds of work unless cancelled
    spec = LocalModelSpec(source=str(tiny_model_dir), device="cpu", hash_weights=False)
    settings = GenerationSettings(max_new_tokens_locate=3000, max_new_tokens_examine=30)
    with qtbot.waitSignal(host.loaded, timeout=LONG):
        host.load(lambda: LocalBackend(spec, settings))
    cancelled_in_worker = []
    host.worker.cancelled.connect(cancelled_in_worker.append, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(
        host.pipeline_event,
        timeout=LONG,
        check_params_cb=lambda path, event: isinstance(event, TokenGenerated),
    ):
        host.submit(photo_path, _options())

    thread = host.thread_handle
    started = time.perf_counter()
    assert host.shutdown(timeout_ms=10000) is True
    assert time.perf_counter() - started < 5
    assert thread.isFinished() and not thread.isRunning()
    assert cancelled_in_worker == [str(photo_path)]
    assert host.worker.backend is None  # the model is released
    assert host.shutdown() is True  # idempotent
    with pytest.raises(RuntimeError):
        host.submit(photo_path, _options())
    del host, thread
    gc.collect()
    assert not [r for r in qtlog.records if "QThread" in r.message]


def test_shutdown_during_a_load_returns_at_once_and_keeps_the_thread(qtbot, qtlog,
                                                                    tiny_model_dir):
    """A load cannot be interrupted: shutdown does not wait for it, keeps the running thread
    referenced (destroying it would abort the process) and the late model is dropped."""
    from inspector.gui import worker as worker_module

    gate = threading.Event()
    made = []

    def slow_factory():
        gate.wait(LONG / 1000)  # a long load that the test lets finish later
        spec = LocalModelSpec(source=str(tiny_model_dir), device="cpu", hash_weights=False)
        made.append(LocalBackend(spec, SETTINGS))
        return made[-1]

    host = WorkerHost()
    outcomes = []
    host.loaded.connect(lambda provenance: outcomes.append("loaded"))
    host.load_failed.connect(outcomes.append)
    with qtbot.waitSignal(host.loading, timeout=LONG):  # the worker is inside the factory
        host.load(slow_factory)
    thread = host.thread_handle
    started = time.perf_counter()
    assert host.shutdown(timeout_ms=10000) is False
    assert time.perf_counter() - started < 1  # not the 10 s: the load is not waited for
    assert thread.isRunning() and worker_module.running_unstopped() >= 1
    assert any(t is thread for t, _ in worker_module._UNSTOPPED)
    assert not host.is_ready and host.model_state == "none"

    gate.set()
    qtbot.waitUntil(thread.isFinished, timeout=LONG)  # the thread's loop was told to quit
    qtbot.wait(100)  # let any queued signal arrive
    assert len(made) == 1 and host.worker.backend is None  # loaded, then dropped
    assert outcomes == [] and host.model_state == "none"
    assert host.shutdown() is True  # idempotent; now it has stopped
    del host, thread
    gc.collect()
    assert not [r for r in qtlog.records if "QThread" in r.message]


def test_a_load_is_over_when_its_outcome_is_announced(host, qtbot, taught_case):
    """Seen under load: the window shut the worker down on a failed load's news while the worker
    still counted the load as under way, so shutdown left its thread to end on its own. Checked
    in the worker thread at the moment of each announcement (direct connection)."""
    under_way: list[bool] = []

    def record(*_args) -> None:
        with host.worker._lock:
            under_way.append(host.worker._loading)

    direct = Qt.ConnectionType.DirectConnection
    host.worker.load_failed.connect(record, direct)
    host.worker.loaded.connect(record, direct)

    def bad_model():
        raise BackendError("model folder /nowhere does not exist")

    with qtbot.waitSignal(host.load_failed, timeout=LONG):
        host.load(bad_model)
    with qtbot.waitSignal(host.loaded, timeout=LONG):
        host.load(taught_factory(taught_case, host, []))
    # the window's relay is queued before `record` runs in the worker thread: on a busy CPU the
    # window can hear of the load before `record` has appended (seen in CI beside a training run)
    qtbot.waitUntil(lambda: len(under_way) == 2, timeout=LONG)
    assert under_way == [False, False]
    assert host.shutdown(5000)  # nothing under way: the thread ends, not left running


def test_factory_errors_become_load_failed(host, qtbot, photo_path, caplog):
    def bad_model():
        raise BackendError("model folder /nowhere does not exist")

    with qtbot.waitSignal(host.load_failed, timeout=LONG) as failed:
        host.load(bad_model)
    assert failed.args == ["model folder /nowhere does not exist"]
    assert host.model_state == "failed" and not host.is_ready

    # nothing is submitted without a model: the image waits in the queue
    queue = AnalysisQueue(host)
    queue.add([photo_path])
    assert queue.running == [] and queue.pending == [str(photo_path)]

    def broken():
        raise RuntimeError("boom")

    with (
        caplog.at_level(logging.ERROR, logger="inspector.gui.worker"),
        qtbot.waitSignal(host.load_failed, timeout=LONG) as failed,
    ):
        host.load(broken)
    assert failed.args == ["internal error: RuntimeError: boom"]
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


class ScriptedBackend:
    """A backend whose turns raise the given exceptions in order, then answer garbage."""

    def __init__(self, errors):
        from trainer.tiny import MAX_PIXELS, MIN_PIXELS

        self.errors = list(errors)
        self.coordinate_space = coordinate_space_for("qwen2_5_vl", MIN_PIXELS, MAX_PIXELS)
        self.settings = GenerationSettings()
        self.provenance = ModelProvenance(model_id="scripted", backend="test")

    def global_scale(self, size):
        return self.coordinate_space.view_scale(size)

    def generate_turn(self, messages, *, max_new_tokens, on_token=None, is_cancelled=None):
        if self.errors:
            raise self.errors.pop(0)
        return TurnResult("no answer", 10, 10, 2, 0.01, "eos")

    def reset(self):
        pass


def test_model_errors_fail_the_item_and_the_worker_lives_on(
    host, qtbot, tmp_path, photo_path, caplog
):
    paths = []
    for name in ("oom.jpg", "bug.jpg", "fine.jpg"):
        paths.append(str(tmp_path / name))
        shutil.copy(photo_path, paths[-1])
    oom = OutOfMemoryError("the GPU ran out of memory while analysing; use 4-bit quantization")
    with qtbot.waitSignal(host.loaded, timeout=LONG):
        host.load(lambda: ScriptedBackend([oom, ZeroDivisionError("division by zero")]))
    queue = AnalysisQueue(host)
    states = record_states(queue)
    failures = {}
    queue.item_failed.connect(lambda path, message: failures.__setitem__(path, message))
    with (
        caplog.at_level(logging.ERROR, logger="inspector.gui.worker"),
        qtbot.waitSignal(queue.queue_idle, timeout=LONG),
    ):
        queue.add(paths)
    assert failures[paths[0]] == str(oom)  # the OutOfMemoryError message is kept
    assert failures[paths[1]] == "internal error: ZeroDivisionError: division by zero"
    assert any(r.exc_info and "bug.jpg" in r.getMessage() for r in caplog.records)
    assert states[paths[2]][-1] == "done"  # still alive


def test_cancel_reaches_an_analysis_not_started_yet(host, qtbot, photo_path):
    """A cancel between submit and start is not lost when the worker clears its flag."""
    gate = threading.Event()

    def slow_factory():
        gate.wait(10)  # the worker is busy loading while the GUI submits and cancels
        return ScriptedBackend([])

    host.load(slow_factory)
    first = host.submit(photo_path, _options())
    host.cancel_current()
    second = host.submit(photo_path, _options())
    assert second == first + 1
    outcomes = []
    host.cancelled.connect(lambda path: outcomes.append("cancelled"))
    host.finished.connect(lambda path, analysis: outcomes.append("done"))
    gate.set()
    with qtbot.waitSignal(host.finished, timeout=LONG):
        pass
    assert outcomes == ["cancelled", "done"]


def _options():
    from inspector.core.closeups import CloseupPolicy
    from inspector.core.pipeline import PipelineOptions

    return PipelineOptions(policy=CloseupPolicy())


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def make_analysis(name, initial, final, confidence=None, regions=0, seconds=None):
    evidence = Evidence(path=f"/evidence/{name}", size_bytes=1, sha256="0" * 64, width=4,
                        height=4, format="JPEG")
    query1 = QueryRecord(raw_text="", explanation=None, verdict=initial, confidence=None)
    query2 = QueryRecord(raw_text="", explanation=None, verdict=final, confidence=confidence)
    return Analysis(
        evidence=evidence,
        model=ModelProvenance(model_id="m", backend="test"),
        query1=query1,
        query2=query2,
        regions=[RegionRecord(i + 1, [0, 0, 1, 1], "r") for i in range(regions)],
        timings={} if seconds is None else {"total": seconds},
    )


@pytest.fixture
def batch(qtbot):
    model = BatchTableModel()
    model.set_analyses([
        make_analysis("a.jpg", "real", "ai-generated", 0.97, 2, 12.5),
        make_analysis("b.jpg", "real", "real", None, 0, 3.0),
        make_analysis("c.jpg", "ai-generated", "ai-generated", 0.5, 10, None),
        make_analysis("d.jpg", None, None, 0.05, 1, 100.0),
    ])
    proxy = BatchFilterProxy()
    proxy.setSourceModel(model)
    return model, proxy


def column(proxy, col) -> list:
    return [proxy.index(row, col).data() for row in range(proxy.rowCount())]


def test_batch_table_display(batch):
    model, proxy = batch
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(8)] == [
        "File", "Initial", "Final", "Changed", "Examiner override", "P(AI-generated)", "Regions",
        "Seconds"]
    assert [model.index(0, c).data() for c in range(8)] == [
        "a.jpg", "Real", "AI-generated", "Real → AI-generated", "—", "0.97", "2", "12.5"]
    tip = model.headerData(BatchTableModel.CONFIDENCE, Qt.Orientation.Horizontal,
                           Qt.ItemDataRole.ToolTipRole)
    assert "uncalibrated" in tip
    assert "sure it is AI-generated" in model.index(0, BatchTableModel.CONFIDENCE).data(
        Qt.ItemDataRole.ToolTipRole)
    assert column(model, BatchTableModel.CHANGED) == [
        "Real → AI-generated", "unchanged", "unchanged", "—"]
    assert column(model, BatchTableModel.CONFIDENCE) == ["0.97", "n/a", "0.50", "0.05"]
    assert column(model, BatchTableModel.FINAL)[3] == "unparsed"
    assert model.analysis_at(2).evidence.path == "/evidence/c.jpg"
    # the same file analysed again replaces its row
    model.add_analysis(make_analysis("b.jpg", "real", "ai-generated", 0.9, 1, 2.0))
    assert model.rowCount() == 4 and model.index(1, BatchTableModel.FINAL).data() == "AI-generated"
    model.add_analysis(make_analysis("e.jpg", "real", "real"))
    assert model.rowCount() == 5


def test_the_table_marks_a_final_verdict_that_follows_none_of_its_findings(batch):
    model, proxy = batch
    against = make_analysis("f.jpg", "real", "ai-generated", 0.6, 1)
    against.findings = [FindingRecord(1, "natural grain", "real")]
    model.add_analysis(against)
    row = model.row_of_path(against.evidence.path)
    cell = model.index(row, BatchTableModel.FINAL)
    assert cell.data() == "AI-generated ⚠"
    assert "follows none of the model's own findings" in cell.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, BatchTableModel.FINAL).data() == "AI-generated"  # no findings
    assert model.index(0, BatchTableModel.FINAL).data(Qt.ItemDataRole.ToolTipRole) is None
    proxy.set_verdict_filter("ai-generated")  # the mark does not hide it from its verdict
    assert "f.jpg" in column(proxy, BatchTableModel.FILE)
    proxy.set_verdict_filter(None)
    proxy.set_against_findings_only(True)  # the examiner lists just those
    assert proxy.against_findings_only and column(proxy, BatchTableModel.FILE) == ["f.jpg"]
    proxy.set_against_findings_only(False)
    assert proxy.rowCount() == 5


@pytest.mark.parametrize(
    ("col", "ascending", "descending"),
    [
        (BatchTableModel.CONFIDENCE, ["d.jpg", "c.jpg", "a.jpg", "b.jpg"],
         ["a.jpg", "c.jpg", "d.jpg", "b.jpg"]),
        (BatchTableModel.SECONDS, ["b.jpg", "a.jpg", "d.jpg", "c.jpg"],
         ["d.jpg", "a.jpg", "b.jpg", "c.jpg"]),
        (BatchTableModel.REGIONS, ["b.jpg", "d.jpg", "a.jpg", "c.jpg"],
         ["c.jpg", "a.jpg", "d.jpg", "b.jpg"]),
    ],
)
def test_batch_sorts_numerically_with_unknown_last(batch, col, ascending, descending):
    _, proxy = batch
    proxy.sort(col, Qt.SortOrder.AscendingOrder)
    assert column(proxy, BatchTableModel.FILE) == ascending
    proxy.sort(col, Qt.SortOrder.DescendingOrder)
    assert column(proxy, BatchTableModel.FILE) == descending


def test_batch_filters(batch):
    _, proxy = batch
    proxy.set_changed_only(True)
    assert column(proxy, BatchTableModel.FILE) == ["a.jpg"]
    proxy.set_changed_only(False)
    proxy.set_verdict_filter("ai-generated")
    assert column(proxy, BatchTableModel.FILE) == ["a.jpg", "c.jpg"]
    proxy.set_verdict_filter("real")
    assert column(proxy, BatchTableModel.FILE) == ["b.jpg"]
    proxy.set_verdict_filter("unparsed")
    assert column(proxy, BatchTableModel.FILE) == ["d.jpg"]
    proxy.set_changed_only(True)
    assert column(proxy, BatchTableModel.FILE) == []
    proxy.set_changed_only(False)
    proxy.set_verdict_filter(None)
    assert proxy.rowCount() == 4
    with pytest.raises(ValueError):
        proxy.set_verdict_filter("fake")


def test_queue_model_rows(qtbot):
    model = QueueModel()
    model.add_paths(["/evidence/a.jpg", "/evidence/b.jpg"])
    assert model.rowCount() == 2
    a, b = model.index(0), model.index(1)
    assert a.data() == "a.jpg — queued"
    assert a.data(QueueModel.PathRole) == "/evidence/a.jpg"
    assert a.data(QueueModel.StateRole) == "queued"
    assert not a.data(Qt.ItemDataRole.DecorationRole).isNull()  # placeholder until loaded

    model.set_state("/evidence/a.jpg", "analysing")
    assert a.data() == "a.jpg — analysing…"
    photo = Image.new("RGB", (320, 240), (200, 30, 30))
    # the window makes the thumbnail off the GUI thread (thumbnail_image) and hands it over
    model.set_icon("/evidence/a.jpg", thumbnail_image(photo))
    icon = a.data(Qt.ItemDataRole.DecorationRole)
    assert icon.availableSizes() and icon.availableSizes()[0] == QSize(64, 48)
    analysis = make_analysis("a.jpg", "ai-generated", "real", 0.1, 1, 1.0)
    model.handle_event("/evidence/a.jpg", InitialVerdict(analysis.query1, []))
    assert a.data() == "a.jpg — AI-generated → …"
    model.set_state("/evidence/a.jpg", "done")
    model.set_analysis("/evidence/a.jpg", analysis)
    assert a.data() == "a.jpg — AI-generated → Real"
    assert a.data(QueueModel.AnalysisRole) is analysis
    assert "/evidence/a.jpg" in a.data(Qt.ItemDataRole.ToolTipRole)

    model.set_state("/evidence/b.jpg", "analysing")
    model.set_error("/evidence/b.jpg", "the file is not an image (it contains text).")
    assert b.data() == "b.jpg — failed: the file is not an image (it contains text)."
    assert b.data(QueueModel.StateRole) == "failed"
    model.set_state("/evidence/b.jpg", "cancelled")
    assert b.data() == "b.jpg — cancelled"

    # analysed again: the previous outcome is forgotten
    model.set_state("/evidence/a.jpg", "queued")
    assert a.data() == "a.jpg — queued" and a.data(QueueModel.AnalysisRole) is None
    assert model.row_of("/evidence/b.jpg") == 1 and model.row_of("/nope") == -1
