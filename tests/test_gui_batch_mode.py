"""The window's queue in batch mode (issue 14): queued images analysed B at a time by the real
tiny model, each image's results its own, the view staying on the image the examiner watches."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402

from inspector.core.backends.base import GenerationSettings  # noqa: E402
from inspector.core.backends.local import LocalBackend, LocalModelSpec  # noqa: E402
from inspector.core.closeups import CloseupPolicy  # noqa: E402
from inspector.core.pipeline import Pipeline, PipelineOptions, TokenGenerated  # noqa: E402
from inspector.gui.main_window import MainWindow  # noqa: E402
from inspector.gui.settings import AppSettings  # noqa: E402
from inspector.gui.worker import ANALYSING, CANCELLED  # noqa: E402
from tests.conftest import skimage_photo  # noqa: E402

LONG = 180_000
TOKENS = 300


@pytest.fixture(scope="module")
def images(tmp_path_factory, taught_case) -> list[Path]:
    folder = tmp_path_factory.mktemp("window-batch")
    paths = [folder / "taught.png"]
    Image.open(taught_case.image_path).save(paths[0])
    for name, size in [("chelsea", (240, 300)), ("coffee", (200, 150))]:
        path = folder / f"{name}.png"
        skimage_photo(name).resize(size, Image.LANCZOS).save(path)
        paths.append(path)
    return paths


def _factory(model_dir):
    spec = LocalModelSpec(source=str(model_dir), device="cpu", hash_weights=False)
    return lambda: LocalBackend(spec, GenerationSettings.with_token_limit(TOKENS))


@pytest.fixture
def make_window(qtbot, taught_case, tmp_path, monkeypatch):
    monkeypatch.setenv("LTE_SETTINGS", str(tmp_path / "settings.toml"))
    windows = []

    def make(batch_size: int) -> MainWindow:
        w = MainWindow(AppSettings(examiner="J. Doe", animation=False, forensics=False,
                                   batch_size=batch_size),
                       _factory(taught_case.model_dir), case_folder=tmp_path / f"case{batch_size}")
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.host.model_state == "loaded", timeout=LONG)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()


def _answers(analysis) -> tuple:
    return (analysis.initial_verdict, analysis.final_verdict,
            [r.box for r in analysis.regions], analysis.query1.explanation,
            analysis.query2.explanation if analysis.query2 else None)


def test_queued_images_are_analysed_together_each_with_its_own_results(
        make_window, qtbot, taught_case, images):
    window = make_window(batch_size=2)
    assert window.host.batch_size.size == 2
    assert "2 images at a time" in window.model_label.text()
    analysing: set[str] = set()
    most_at_once = 0
    shown_order: list[str] = []
    streamed: dict[str, str] = {str(p): "" for p in images}

    def on_state(path: str, state: str) -> None:
        nonlocal most_at_once
        if state == ANALYSING:
            analysing.add(path)
        else:
            analysing.discard(path)
        most_at_once = max(most_at_once, len(analysing))

    def on_event(path: str, event) -> None:
        if not isinstance(event, TokenGenerated):
            return
        if event.query == 1:
            streamed[path] += event.text
        # what the examiner watches while text streams (the batch's images load within
        # milliseconds of each other; the view settles on the first before any text comes)
        if window.shown_path and (not shown_order or shown_order[-1] != window.shown_path):
            shown_order.append(window.shown_path)

    window.queue.state_changed.connect(on_state)
    window.host.pipeline_event.connect(on_event)
    with qtbot.waitSignal(window.queue.queue_idle, timeout=LONG):
        window.add_paths(images)
    window.flush_case_writes()

    assert most_at_once == 2  # the first two ran together, the third after them
    # every image's analysis is its own and equals the one-at-a-time answer (greedy)
    alone = Pipeline(_factory(taught_case.model_dir)(),
                     PipelineOptions(policy=CloseupPolicy()))
    for path in images:
        analysis = window.records[str(path)].analysis
        assert analysis is not None and analysis.evidence.path == str(path)
        assert _answers(analysis) == _answers(alone.analyze(path))
        # the streamed text that reached the window is this image's answer, not a batch-mate's
        assert streamed[str(path)] == analysis.query1.raw_text
    assert len(window.case.latest()) == 3
    # the view followed the queue in order and never went back and forth between batch-mates
    # (a batch-mate that finishes with the watched image is never shown streaming)
    order = [str(p) for p in images]
    assert shown_order[0] == order[0] and shown_order[-1] == order[-1]
    assert shown_order == sorted(set(shown_order), key=order.index)

    # a region's tooltip says how surely the model wrote it (from the model's own scores)
    taught = str(images[0])
    window.show_path(taught)
    qtbot.waitUntil(lambda: window.displayed_path == taught, timeout=30_000)
    region = window.records[taught].analysis.regions[0]
    tip = window.view.region_item(region.number).toolTip()
    assert region.confidence is not None and f"written with surety {region.confidence:.2f}" in tip


def test_cancel_stops_every_image_of_the_running_batch(make_window, qtbot, images):
    window = make_window(batch_size=3)
    ended: dict[str, str] = {}
    window.queue.state_changed.connect(
        lambda path, state: state == CANCELLED and ended.setdefault(path, state))
    started = []
    window.host.pipeline_event.connect(
        lambda path, event: isinstance(event, TokenGenerated) and started.append(path))
    window.add_paths(images)
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=LONG)
    assert window.queue.running == [str(p) for p in images]  # all three in one batch
    with qtbot.waitSignal(window.queue.queue_idle, timeout=60_000):
        window.cancel_button.click()
    assert set(ended) == {str(p) for p in images}
    assert not window.queue.is_busy and not window.cancel_button.isEnabled()


def test_batch_size_is_a_setting_automatic_by_default(qtbot, tmp_path):
    from inspector.gui.settings import SettingsDialog, load_settings, save_settings

    dialog = SettingsDialog(AppSettings(), path=tmp_path / "s.toml")
    qtbot.addWidget(dialog)
    assert dialog.batch_size_spin.text() == "automatic"  # 0 is said in words
    assert dialog.prompt_lookup_spin.text() == "off"
    dialog.batch_size_spin.setValue(4)
    dialog.prompt_lookup_spin.setValue(10)
    path = save_settings(dialog.settings(), tmp_path / "s.toml")
    assert (load_settings(path)[0].batch_size, load_settings(path)[0].prompt_lookup) == (4, 10)
    path.write_text("batch_size = 100\n")
    settings, problems = load_settings(path)
    assert settings.batch_size == 0
    assert "batch_size = 100: must be 0 (automatic) to 64" in problems[0]


def test_one_image_at_a_time_on_a_cpu_by_default(make_window):
    window = make_window(batch_size=0)
    assert window.host.batch_size.size == 1 and "CPU" in window.host.batch_size.reason
    assert "at a time" not in window.model_label.text()
    assert window.model_label.toolTip().startswith("Batch size:")
