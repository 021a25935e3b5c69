"""An examiner's workflow on the real window (offscreen), real tiny model, real files.

Each test is one reproduction from the independent check (issue 11): it failed on the window as
it was and must keep passing. The model is the tiny Qwen2.5-VL taught one answer (conftest).
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402

from inspector.cli import main as cli_main  # noqa: E402
from inspector.core.backends.base import BackendError, GenerationSettings  # noqa: E402
from inspector.core.backends.local import LocalBackend, LocalModelSpec  # noqa: E402
from inspector.core.casestore import CaseStore  # noqa: E402
from inspector.core.pipeline import TokenGenerated  # noqa: E402
from inspector.gui.image_view import ImageView  # noqa: E402
from inspector.gui.main_window import MainWindow  # noqa: E402
from inspector.gui.models import BatchTableModel  # noqa: E402
from inspector.gui.settings import AppSettings, load_settings  # noqa: E402
from tests.conftest import skimage_photo  # noqa: E402

LONG = 120_000


def _factory(model_dir, max_new_tokens=400):
    settings = GenerationSettings(max_new_tokens, max_new_tokens)
    return lambda: LocalBackend(LocalModelSpec(source=str(model_dir), device="cpu"), settings)


@pytest.fixture
def settings_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "settings.toml"
    monkeypatch.setenv("LTE_SETTINGS", str(path))
    return path


def _window(qtbot, model_dir, case_folder, examiner="J. Doe", factory=None) -> MainWindow:
    w = MainWindow(AppSettings(examiner=examiner, animation=False),
                   factory or _factory(model_dir), case_folder=case_folder)
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def window(qtbot, taught_case, tmp_path, settings_file):
    w = _window(qtbot, taught_case.model_dir, tmp_path / "case")
    yield w
    w.close()


def _analyse(window, qtbot, paths) -> None:
    with qtbot.waitSignal(window.queue.queue_idle, timeout=LONG):
        window.add_paths(paths)
    window.flush_case_writes()


def _show(window, qtbot, path) -> None:
    window.show_path(str(path))
    qtbot.waitUntil(lambda: window.displayed_path == str(path)
                    or window.evidence.text().count(str(path)) > 0
                    and "Reading" not in window.evidence.text(), timeout=30_000)


def _evidence_copy(taught_case, folder: Path, name: str) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / name
    shutil.copy(taught_case.image_path, target)
    return target


def _other_photo(path: Path, size=(400, 300)) -> None:
    skimage_photo("coffee").resize(size).save(path, quality=90)


# 1 -------------------------------------------------------------------------------------------


def test_a_file_changed_after_analysis_is_flagged_and_never_shown_under_old_results(
        window, qtbot, taught_case, tmp_path):
    swap = _evidence_copy(taught_case, tmp_path / "evidence", "swap.jpg")
    _analyse(window, qtbot, [swap])
    recorded = window.records[str(swap)].analysis
    _other_photo(swap)  # overwritten with another photograph, another size
    window._clear_shown()
    _show(window, qtbot, swap)
    # the new pixels, unmistakably marked, without the old boxes, close-ups or verdicts
    assert window.view.image_rect().width() == 400
    assert "FILE CHANGED" in window.view.alert()
    assert window.view.region_numbers() == []
    assert window.strip.count() == 0
    assert window.verdicts.initial_card.verdict.text() == "—"
    assert window.verdicts.final_card.verdict.text() == "—"
    assert not window.examiner.isEnabled()
    assert "FILE CHANGED SINCE ANALYSIS" in window.evidence.text()
    assert "FILE CHANGED" in window.queue_model.item(str(swap)).display_text()
    assert window.state_bar.isVisible() and window.state_bar.reanalyse.isVisible()
    # re-analyse: a new analysis of the new bytes; the old one stays in the case as history
    with qtbot.waitSignal(window.queue.queue_idle, timeout=LONG):
        window.state_bar.reanalyse.click()
    window.flush_case_writes()
    case = CaseStore.open(tmp_path / "case")
    ids = {a.id for a in case.all_analyses() if a.evidence.path == str(swap)}
    assert recorded.id in ids and len(ids) == 2
    _show(window, qtbot, swap)
    assert window.view.alert() == "" and not window.state_bar.isVisible()
    assert "FILE CHANGED" not in window.queue_model.item(str(swap)).display_text()
    # a deleted file is said to be missing, not shown
    swap.unlink()
    _show(window, qtbot, swap)
    assert not window.view.has_image() and "FILE MISSING" in window.view.message()
    assert "FILE MISSING" in window.evidence.text()
    assert "FILE MISSING" in window.queue_model.item(str(swap)).display_text()


# 2 -------------------------------------------------------------------------------------------


def test_opening_a_cli_case_shows_its_images_and_notes_are_saved_into_it(
        window, qtbot, taught_case, tmp_path):
    from tests.test_cli import _lte_inspect

    # a session image first, so the window has something of its own case in the queue
    session_image = _evidence_copy(taught_case, tmp_path / "session", "session.jpg")
    _analyse(window, qtbot, [session_image])
    cli_image = _evidence_copy(taught_case, tmp_path / "cli", "cli.jpg")
    case_dir = tmp_path / "cli-case"
    result = _lte_inspect("analyze", str(cli_image), "--model", str(taught_case.model_dir),
                          "--device", "cpu", "--max-new-tokens", "300", "--case", str(case_dir),
                          "--examiner", "K. Mulder")
    assert result.returncode == 0, result.stderr
    assert window._open_case(case_dir, create=False)
    assert window.queue_model.paths() == [str(cli_image)]  # the case's images, no others
    assert window.table_model.rowCount() == 1
    _show(window, qtbot, cli_image)
    assert window.examiner.isEnabled()
    window.examiner.notes_edit.setPlainText("Compared with the upload on the seized phone.")
    window.examiner.save()
    qtbot.waitUntil(lambda: window.examiner.status_label.text().startswith("Saved by"),
                    timeout=10_000)
    assert not window.error_bar.isVisible()
    stored = CaseStore.open(case_dir).latest()[0]
    assert stored.examiner.notes == "Compared with the upload on the seized phone."
    assert stored.examiner.examiner == "J. Doe"


def test_an_opened_case_says_which_files_changed_before_any_is_selected(
        window, qtbot, taught_case, tmp_path):
    """Seen under Xvfb: a reopened case listed a file overwritten since its analysis with its old
    verdicts and grey thumbnails until the examiner happened to select it."""
    kept = _evidence_copy(taught_case, tmp_path / "evidence", "kept.jpg")
    swapped = _evidence_copy(taught_case, tmp_path / "evidence", "swapped.jpg")
    gone = _evidence_copy(taught_case, tmp_path / "evidence", "gone.jpg")
    _analyse(window, qtbot, [kept, swapped, gone])
    _other_photo(swapped)
    gone.unlink()
    assert window._open_case(tmp_path / "case", create=False)
    assert window.shown_path is None  # nothing selected: the rows are checked on their own
    item = window.queue_model.item
    qtbot.waitUntil(lambda: "FILE CHANGED" in item(str(swapped)).display_text()
                    and "FILE MISSING" in item(str(gone)).display_text(), timeout=30_000)
    assert "FILE" not in item(str(kept)).display_text()
    qtbot.waitUntil(lambda: item(str(kept)).icon is not None, timeout=30_000)
    # the thumbnail is of the file as it is now: the other photograph's colours, not the old
    icon = item(str(swapped)).icon
    assert icon is not None
    now = icon.pixmap(64, 64).toImage().scaled(1, 1).pixelColor(0, 0)
    before = item(str(kept)).icon.pixmap(64, 64).toImage().scaled(1, 1).pixelColor(0, 0)
    assert now != before


def test_a_failed_save_is_an_error_the_examiner_sees_and_the_text_is_kept(
        window, qtbot, taught_case, tmp_path):
    image = _evidence_copy(taught_case, tmp_path / "evidence", "a.jpg")
    _analyse(window, qtbot, [image])
    _show(window, qtbot, image)
    analysis = window.records[str(image)].analysis
    # the case's storage went away (a removed USB drive, an unmounted share)
    shutil.rmtree(window.case.analysis_path(analysis.id).parent)
    window.examiner.notes_edit.setPlainText("important")
    window.examiner.save()
    qtbot.waitUntil(lambda: window.error_bar.isVisible(), timeout=10_000)
    assert "NOT SAVED" in window.error_bar.text()
    assert "Saved by" not in window.examiner.status_label.text()
    assert window.examiner.status_label.text().startswith("NOT SAVED")
    assert window.examiner.notes_edit.toPlainText() == "important"
    assert window.examiner.has_unsaved_changes()


# 3 -------------------------------------------------------------------------------------------


def test_a_failed_file_clears_every_panel_of_the_previous_one(window, qtbot, taught_case,
                                                              tmp_path):
    good = _evidence_copy(taught_case, tmp_path / "evidence", "coffee.jpg")
    broken = tmp_path / "evidence" / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:200])
    _analyse(window, qtbot, [good, broken])
    _show(window, qtbot, good)
    sha = window.records[str(good)].analysis.evidence.sha256
    assert sha in window.evidence.text()
    _show(window, qtbot, broken)
    text = window.evidence.text()
    assert sha not in text and str(good) not in text
    assert str(broken) in text and "truncated" in text.lower()
    assert not window.view.has_image() and "could not be analysed" in window.view.message()
    assert window.view.region_numbers() == [] and window.strip.count() == 0
    assert window.verdicts.initial_card.verdict.text() == "—"
    row = window.queue_model.index(window.queue_model.row_of(broken), 0)
    assert row.data(Qt.ItemDataRole.ForegroundRole) is not None  # marked red


# 4 -------------------------------------------------------------------------------------------


def test_queue_table_and_view_follow_each_other_from_the_keyboard(window, qtbot, taught_case,
                                                                  tmp_path):
    paths = [_evidence_copy(taught_case, tmp_path / "evidence", f"{n}.jpg") for n in "abc"]
    _analyse(window, qtbot, paths)
    _show(window, qtbot, paths[0])
    window.queue_view.setFocus()
    qtbot.keyClick(window.queue_view, Qt.Key.Key_Down)
    assert window.shown_path == str(paths[1])
    qtbot.keyClick(window.queue_view, Qt.Key.Key_End)
    assert window.shown_path == str(paths[2])
    qtbot.keyClick(window.queue_view, Qt.Key.Key_Home)
    assert window.shown_path == str(paths[0])
    # the batch table's current row follows the queue…
    current = window.table.selectionModel().currentIndex()
    assert window._table_path(current) == str(paths[0])
    # …and Enter on a table row shows it in the Inspect tab with its queue row selected
    window.tabs.setCurrentIndex(1)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    assert window.shown_path == str(paths[1])
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    assert window.tabs.currentIndex() == 0
    assert window.queue_view.currentIndex().row() == window.queue_model.row_of(paths[1])


# 5 -------------------------------------------------------------------------------------------


def test_notes_survive_moving_to_another_image(qtbot, taught_case, tmp_path, settings_file):
    window = _window(qtbot, taught_case.model_dir, tmp_path / "case", examiner="")
    try:
        a, b = (_evidence_copy(taught_case, tmp_path / "evidence", f"{n}.jpg") for n in "ab")
        _analyse(window, qtbot, [a, b])
        _show(window, qtbot, a)
        window.examiner.notes_edit.setPlainText("hands look odd")  # no examiner name yet
        _show(window, qtbot, b)
        assert "not saved" in window.last_notice
        _show(window, qtbot, a)
        assert window.examiner.notes_edit.toPlainText() == "hands look odd"
        assert window.examiner.has_unsaved_changes()
        # with a name, moving away saves it to the case, and the name is remembered
        window.examiner.name_edit.setText("Dana Scully")
        _show(window, qtbot, b)
        analysis_id = window.records[str(a)].analysis.id
        qtbot.waitUntil(lambda: analysis_id not in window.drafts.drafts, timeout=10_000)
        stored = CaseStore.open(tmp_path / "case").get(analysis_id)
        assert (stored.examiner.examiner, stored.examiner.notes) == ("Dana Scully",
                                                                     "hands look odd")
        assert load_settings(settings_file)[0].examiner == "Dana Scully"
    finally:
        window.close()


# 6 -------------------------------------------------------------------------------------------


def test_the_override_is_the_verdict_of_record_everywhere(window, qtbot, taught_case, tmp_path):
    image = _evidence_copy(taught_case, tmp_path / "evidence", "a.jpg")
    _analyse(window, qtbot, [image])
    _show(window, qtbot, image)
    analysis = window.records[str(image)].analysis
    assert (analysis.initial_verdict, analysis.final_verdict) == ("real", "ai-generated")
    combo = window.examiner.override_combo
    assert combo.findText("Inconclusive") >= 0
    combo.setCurrentIndex(combo.findData("real"))
    window.examiner.notes_edit.setPlainText("The original camera file was found.")
    window.examiner.save()
    qtbot.waitUntil(lambda: window.examiner.status_label.text().startswith("Saved by"),
                    timeout=10_000)
    banner = window.verdicts.banner.text()
    assert "Examiner override: Real" in banner and "J. Doe" in banner
    assert "Real → AI-generated" in banner  # the model's verdicts stay next to it
    assert "examiner: Real" in window.queue_model.item(str(image)).display_text()
    column = [window.table_model.index(r, BatchTableModel.OVERRIDE).data()
              for r in range(window.table_model.rowCount())]
    assert column == ["Real"]
    assert window.table_model.headerData(
        BatchTableModel.CONFIDENCE, Qt.Orientation.Horizontal) == "P(AI-generated)"
    # File › Export: the table and the results carry the verdict of record, who and why
    out, lines = tmp_path / "table.csv", tmp_path / "results.jsonl"
    assert window.export_tables(csv=out, jsonl=lines)
    with out.open(encoding="utf-8-sig") as fh:
        row = next(csv.DictReader(fh))
    assert (row["verdict_of_record"], row["override_by"]) == ("real", "J. Doe")
    assert row["examiner_notes"] == "The original camera file was found."
    record = json.loads(lines.read_text(encoding="utf-8").splitlines()[0])
    assert record["verdict_of_record"] == "real" and record["final"]["verdict"] == "ai-generated"
    assert record["examiner"]["name"] == "J. Doe"
    # the same from the command line, logged in the custody log
    again = tmp_path / "again.jsonl"
    assert cli_main(["export", str(tmp_path / "case"), "--jsonl", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == lines.read_text(encoding="utf-8")
    actions = [e["action"] for e in CaseStore.open(tmp_path / "case").custody()]
    assert actions.count("results-exported") == 3


# 7 -------------------------------------------------------------------------------------------


def test_a_40_megapixel_photo_is_previewed_without_freezing_the_window(
        window, qtbot, tmp_path):
    big = tmp_path / "big.jpg"
    photo = skimage_photo("chelsea").resize((8000, 5336), Image.Resampling.BILINEAR)
    photo.save(big, quality=85)
    del photo
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    started = time.perf_counter()
    window.show_path(str(big))  # looked at, not queued
    returned = time.perf_counter() - started
    assert not window.view.has_image()  # nothing decoded on the GUI thread
    qtbot.waitUntil(lambda: window.displayed_path == str(big), timeout=60_000)
    timer.stop()
    assert returned < 0.5
    assert max(gaps) < 1000, f"the event loop stalled for {max(gaps)} ms"
    assert window.view.is_preview() and window.view.image_rect().width() == 8000
    assert max(window.view.pixmap_item().pixmap().width(),
               window.view.pixmap_item().pixmap().height()) <= 2048
    assert "8000 × 5336" in window.evidence.text()
    # at 100 % the visible area is drawn from the full-resolution file
    window.view.set_zoom(1.0)
    assert window.zoom_label.text() == "Zoom 100 %"
    centre = window.view.viewport().rect().center()
    qtbot.mouseMove(window.view.viewport(), centre)
    x, y = window.view.pixel_at(centre)
    assert window.pixel_label.text() == f"x {x}, y {y}" and 0 <= x < 8000 and 0 <= y < 5336
    qtbot.waitUntil(lambda: window.view.detail_rect() is not None, timeout=60_000)
    detail = window.view.detail_rect()
    assert detail.width() <= window.view.viewport().width() + 2


# 9 -------------------------------------------------------------------------------------------


def test_a_failed_model_load_is_shown_with_next_steps(qtbot, tmp_path, taught_case,
                                                      settings_file):
    def broken_factory():
        raise BackendError("no model folder at /models/qwen-7b (was it moved?)")

    window = MainWindow(AppSettings(examiner="J. Doe", animation=False), broken_factory,
                        case_folder=tmp_path / "case",
                        demo_factory=_factory(taught_case.model_dir))
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.view.message() == ImageView.DROP_MESSAGE  # the empty window's drop target
        assert not window.cancel_button.isEnabled() and not window.stop_button.isEnabled()
        qtbot.waitUntil(lambda: window.error_bar.isVisible(), timeout=30_000)
        text = window.error_bar.text()
        assert "/models/qwen-7b" in text and "Settings" in text
        buttons = {b.text(): b for b in window.error_bar.buttons()}
        assert list(buttons)[0] == "Open Settings…" and "Use the demo model" in buttons
        image = _evidence_copy(taught_case, tmp_path / "evidence", "a.jpg")
        window.add_paths([image])
        item = window.queue_model.item(str(image))
        assert item.display_text().endswith("not analysed: model not loaded")
        assert not window.cancel_button.isEnabled()
        # the next step works: the demo model loads and the waiting image is analysed
        with qtbot.waitSignal(window.queue.queue_idle, timeout=LONG):
            buttons["Use the demo model"].click()
        assert window.queue_model.item(str(image)).state == "done"
        assert not window.error_bar.isVisible() and "DEMO" in window.banner.text()
    finally:
        window.close()


# 10 ------------------------------------------------------------------------------------------


def test_streaming_text_is_the_explanation_never_tags_or_json(window, qtbot, taught_case,
                                                              tmp_path):
    image = _evidence_copy(taught_case, tmp_path / "evidence", "a.jpg")
    seen: list[str] = []

    def watch(path, event) -> None:
        if isinstance(event, TokenGenerated) and path == window.displayed_path:
            seen.append(window.verdicts.initial_card.explanation.toPlainText())

    window.host.pipeline_event.connect(watch)
    _analyse(window, qtbot, [image])
    assert seen, "no token was shown while streaming"
    assert not [t for t in seen if "<" in t or "bbox_2d" in t or "{" in t]
    assert any("Skin and suit" in t for t in seen)


def test_an_opened_case_flags_a_verdict_against_all_its_findings_and_lists_just_those(
        window, qtbot, taught_case, tmp_path):
    """Seen under Xvfb with the demo model: "CHANGED: Real → AI-generated" over two findings that
    both read "natural detail, nothing generator-like → Real", and nothing said about it."""
    from inspector.core.file_hash import file_sha256
    from tests.conftest import make_analysis

    case = CaseStore.create(tmp_path / "flag-case", "2026-0099", "Flags", "J. Doe")
    paths = {}
    for name in ("supported.jpg", "against.jpg"):
        path = _evidence_copy(taught_case, tmp_path / "evidence", name)
        if name == "against.jpg":
            _other_photo(path)  # another file, so that each has its own SHA-256
        analysis = make_analysis(str(path), file_sha256(path))
        if name == "against.jpg":
            for finding in analysis.findings:
                finding.points_to = "real"
        case.add_analysis(analysis, {})
        paths[name] = path
    assert window._open_case(case.root, create=False)
    assert window.table_model.rowCount() == 2
    _show(window, qtbot, paths["against.jpg"])
    warning = window.verdicts.findings_warning
    qtbot.waitUntil(lambda: warning.isVisible(), timeout=30_000)
    assert "follows none of the model's own findings" in warning.text()
    _show(window, qtbot, paths["supported.jpg"])
    qtbot.waitUntil(lambda: not warning.isVisible(), timeout=30_000)
    window.against_findings_only.setChecked(True)  # the examiner lists just the flagged ones
    shown = [window.table_proxy.index(r, BatchTableModel.FILE).data()
             for r in range(window.table_proxy.rowCount())]
    assert shown == ["against.jpg"]
    window.against_findings_only.setChecked(False)
    assert window.table_proxy.rowCount() == 2
