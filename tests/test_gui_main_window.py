"""The main window as an investigator uses it, on a real (tiny, taught) model, offscreen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QLabel, QWidget  # noqa: E402

from inspector.core.backends.base import GenerationSettings  # noqa: E402
from inspector.core.backends.local import LocalBackend, LocalModelSpec  # noqa: E402
from inspector.core.casestore import CaseStore  # noqa: E402
from inspector.gui.main_window import MainWindow  # noqa: E402
from inspector.gui.settings import AppSettings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _texts(widget: QWidget) -> str:
    return "\n".join(label.text() for label in widget.findChildren(QLabel))


def _factory(model_dir, max_new_tokens=400):
    settings = GenerationSettings(max_new_tokens, max_new_tokens)
    return lambda: LocalBackend(LocalModelSpec(source=str(model_dir), device="cpu"), settings)


@pytest.fixture
def window(qtbot, taught_case, tmp_path, monkeypatch):
    monkeypatch.setenv("LTE_SETTINGS", str(tmp_path / "settings.toml"))
    settings = AppSettings(examiner="J. Doe", animation=True)
    w = MainWindow(settings, _factory(taught_case.model_dir), case_folder=tmp_path / "case")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def _show(window: MainWindow, qtbot, path) -> None:
    """Select an image and wait until its file was re-hashed and it is on screen."""
    window.show_path(str(path))
    qtbot.waitUntil(lambda: window.displayed_path == str(path), timeout=30_000)


def _drop(window: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_drop_images_and_see_both_verdicts(window, qtbot, taught_case, tmp_path):
    folder = tmp_path / "evidence"
    folder.mkdir()
    shutil.copy(taught_case.image_path, folder / "photo.jpg")
    (folder / "notes.jpg").write_text("not a picture")
    with qtbot.waitSignal(window.queue.queue_idle, timeout=120_000):
        _drop(window, [folder])
    states = {Path(window.queue_model.path_at(r)).name:
              window.queue_model.item(window.queue_model.path_at(r)).state
              for r in range(window.queue_model.rowCount())}
    assert states == {"photo.jpg": "done", "notes.jpg": "failed"}
    # show the analysed photo and read what the investigator sees
    photo = str(folder / "photo.jpg")
    _show(window, qtbot, photo)
    qtbot.waitUntil(lambda: "AI-generated" in _texts(window.verdicts), timeout=10_000)
    text = _texts(window.verdicts)
    assert "Real" in text and "AI-generated" in text and "CHANGED" in text.upper()
    assert window.view.region_numbers() == [1, 2]
    assert window.strip.count() == 2
    # the analysis is in the case on disk, and in the batch table
    window.flush_case_writes()
    case = CaseStore.open(tmp_path / "case")
    assert [a.final_verdict for a in case.latest()] == ["ai-generated"]
    assert window.table_model.rowCount() == 1
    # the broken file's problem is told, not hidden
    item = window.queue_model.item(str(folder / "notes.jpg"))
    assert "not an image" in item.error


def test_selecting_a_finding_highlights_its_box(window, qtbot, taught_case):
    with qtbot.waitSignal(window.queue.queue_idle, timeout=120_000):
        window.add_paths([taught_case.image_path])
    _show(window, qtbot, taught_case.image_path)
    with qtbot.assertNotEmitted(window.verdicts.finding_selected):
        window._region_selected(2)
    assert window.view.region_item(2).highlighted


def test_examiner_input_is_saved_to_the_case(window, qtbot, taught_case, tmp_path):
    with qtbot.waitSignal(window.queue.queue_idle, timeout=120_000):
        window.add_paths([taught_case.image_path])
    _show(window, qtbot, taught_case.image_path)
    analysis = window.records[str(taught_case.image_path)].analysis
    panel = window.examiner
    panel.notes_edit.setPlainText("Checked the original upload.")
    panel.override_combo.setCurrentIndex(panel.override_combo.findData("real"))
    qtbot.keySequence(window, "Ctrl+S")
    qtbot.waitUntil(lambda: panel.status_label.text().startswith("Saved by J. Doe"),
                    timeout=10_000)
    stored = CaseStore.open(tmp_path / "case").get(analysis.id)
    assert stored.examiner.notes == "Checked the original upload."
    assert stored.examiner.override_verdict == "real"


def test_cancel_and_close_during_work(qtbot, tiny_model_dir, photo_path, tmp_path):
    """A random model writes until its token limit: long enough to cancel, then close."""
    settings = AppSettings(examiner="J. Doe")
    w = MainWindow(settings, _factory(tiny_model_dir, max_new_tokens=4000),
                   case_folder=tmp_path / "case")
    qtbot.addWidget(w)
    w.show()
    copies = []
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(photo_path, tmp_path / name)
        copies.append(tmp_path / name)
    w.add_paths(copies)
    qtbot.waitUntil(lambda: len(w.records[str(copies[0])].streams[1]) > 20, timeout=60_000)
    w.queue.cancel_current()
    qtbot.waitUntil(lambda: w.queue_model.item(str(copies[0])).state == "cancelled",
                    timeout=10_000)
    qtbot.waitUntil(lambda: w.queue.running == [str(copies[1])], timeout=10_000)
    w.close()  # while b.jpg is being analysed
    assert w.host.thread_handle.isFinished()


def test_first_run_without_a_model_says_what_to_do(qtbot, tmp_path, monkeypatch):
    from inspector.gui import app

    monkeypatch.setattr(app, "DEMO_MODEL", tmp_path / "no-demo")
    factory, is_demo, notice = app.backend_factory_for(AppSettings())
    assert factory is None and not is_demo
    assert "Settings" in notice and "lte-inspect download" in notice
    w = MainWindow(AppSettings(), None, notices=[notice], case_folder=tmp_path / "case")
    qtbot.addWidget(w)
    w.show()
    assert w.banner.isVisible() and "No model is configured" in w.banner.text()
    w.close()


def test_demo_checkpoint_is_labelled_as_a_demo(qtbot, tmp_path, monkeypatch, tiny_model_dir):
    from inspector.gui import app

    monkeypatch.setattr(app, "DEMO_MODEL", tiny_model_dir)
    factory, is_demo, notice = app.backend_factory_for(AppSettings())
    assert factory is not None and is_demo and notice is None
    w = MainWindow(AppSettings(), None, is_demo=True, case_folder=tmp_path / "case")
    qtbot.addWidget(w)
    w.show()
    assert "not a detector" in w.banner.text()
    w.close()


def test_case_report_and_evidence_panel(window, qtbot, taught_case, tmp_path):
    import hashlib
    import subprocess

    with qtbot.waitSignal(window.queue.queue_idle, timeout=120_000):
        window.add_paths([taught_case.image_path])
    _show(window, qtbot, taught_case.image_path)
    sha = hashlib.sha256(taught_case.image_path.read_bytes()).hexdigest()
    assert sha in window.evidence.text()
    assert "C2PA" in window.evidence.text()
    # export the session case's report
    pdf = tmp_path / "report.pdf"
    assert window.export_report(pdf) >= 2
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                              text=True).stdout
        assert sha in text
    # a new case starts empty; reopening the first restores its table
    assert window.create_case(tmp_path / "case2", "2026-0500", "second")
    assert window.table_model.rowCount() == 0
    window._open_case(tmp_path / "case", create=False)
    assert window.table_model.rowCount() == 1


def test_entry_point_opens_the_window_offscreen(tmp_path):
    """`python -m inspector --smoke-test`: what packaging/smoke_test.sh runs on the built app."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LTE_SETTINGS=str(tmp_path / "s.toml"))
    result = subprocess.run([sys.executable, "-m", "inspector", "--smoke-test"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "window opened: LTE Inspector" in result.stdout
