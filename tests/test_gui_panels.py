"""Verdict panel, examiner panel and settings (file + dialog)."""

from __future__ import annotations

import datetime as dt
import os

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from inspector.core.closeups import CloseupPolicy  # noqa: E402
from inspector.gui.examiner_panel import ExaminerPanel  # noqa: E402
from inspector.gui.settings import (  # noqa: E402
    AppSettings,
    SettingsDialog,
    load_settings,
    save_settings,
    settings_path,
    to_closeup_policy,
    to_local_spec,
    validate,
)
from inspector.gui.verdict_panel import VerdictPanel  # noqa: E402
from tests.conftest import make_analysis


def _analysis(query2: bool = True):
    return make_analysis(path="a é.jpg", examined=query2, final_confidence=0.87)


# -- verdict panel ----------------------------------------------------------------------------


def test_changed_banner_and_both_confidences(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(_analysis())
    assert panel.banner.text() == "CHANGED: Real → AI-generated"
    assert panel.initial_card.title.text() == "Initial (Query 1)"
    assert panel.final_card.title.text() == "Corrected (Query 2)"
    assert panel.initial_card.verdict.text() == "Real"
    assert panel.final_card.verdict.text() == "AI-generated"
    assert panel.initial_card.confidence.text() == "P(AI-generated) 0.20"
    assert panel.final_card.confidence.text() == "P(AI-generated) 0.87"
    assert panel.initial_card.explanation.toPlainText() == "looks real"
    assert panel.initial_card.explanation.isReadOnly()
    assert "p" in panel.initial_card.problems.text()
    rows = [panel.findings_list.item(i).text() for i in range(panel.findings_list.count())]
    assert rows[1] == "● 2  the lettering melts into the wall → AI-generated"
    assert "structure" in panel.tags_label.text()


def test_skipped_query2_shows_reason_and_unchanged(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    analysis = _analysis(query2=False)
    analysis.query1.confidence = None
    panel.show_analysis(analysis)
    assert panel.final_card.title.text() == (
        "Query 2 skipped: no regions located; the initial verdict stands"
    )
    assert panel.banner.text() == "Unchanged: Real"
    assert panel.initial_card.confidence.text() == "P(AI-generated) not available"
    assert panel.findings_list.count() == 0


def test_unparsed_is_not_comparable(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    analysis = _analysis()
    analysis.query2.verdict = None
    panel.show_analysis(analysis)
    assert panel.banner.text() == "Not comparable (unparsed verdict)"
    assert panel.final_card.verdict.text() == "unparsed"


def test_random_closeups_are_said_to_be_an_ablation_and_located_ones_are_not(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    located = _analysis()
    located.closeup_policy = {"mode": "located", "seed": 0}
    panel.show_analysis(located)
    assert panel.ablation_label.isHidden()
    shuffled = _analysis()
    shuffled.closeup_policy = {"mode": "random", "seed": 7}
    panel.show_analysis(shuffled)
    assert not panel.ablation_label.isHidden()
    assert "random boxes" in panel.ablation_label.text() and "seed 7" in panel.ablation_label.text()
    panel.clear()
    assert panel.ablation_label.isHidden()


def test_a_verdict_against_all_its_own_findings_is_flagged_beside_it(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(_analysis())  # the findings support the corrected verdict
    assert panel.findings_warning.isHidden()
    against = _analysis()
    for finding in against.findings:
        finding.points_to = "real"
    panel.show_analysis(against)
    assert not panel.findings_warning.isHidden()
    assert panel.findings_warning.text() == (
        "The corrected verdict (AI-generated) follows none of the model's own findings: all 2 "
        "of its findings point to Real. The close-ups, as the model described them, do not "
        "explain this verdict.")
    panel.show_analysis(_analysis(query2=False))  # the next image: nothing to compare
    assert panel.findings_warning.isHidden()
    panel.show_analysis(against)
    panel.clear()
    assert panel.findings_warning.isHidden() and not panel.findings_warning.text()


def test_initial_then_streaming_then_clear(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    # the explanation as it grows, never the tags, JSON or a half-written closing tag
    panel.set_streaming(1, "<explanation>Skin looks")
    panel.set_streaming(1, "<explanation>Skin looks fine</expl")
    assert panel.initial_card.explanation.toPlainText() == "Skin looks fine"
    panel.set_streaming(1, '<explanation>Skin looks fine</explanation><regions>[{"bbox_2d": [1,')
    assert panel.initial_card.explanation.toPlainText() == "Skin looks fine"
    assert panel.initial_card.verdict.text() == "…"
    panel.set_streaming(1, "<explanation>Skin looks fine</explanation><regions>[]</regions>"
                           "<verdict>real</verdict>")
    assert panel.initial_card.verdict.text() == "Real"  # as soon as the verdict closes
    panel.show_initial(_analysis().query1)
    assert panel.initial_card.verdict.text() == "Real"
    assert panel.banner.isHidden()
    panel.set_streaming(2, '<findings>[{"region": 1')
    assert panel.final_card.explanation.toPlainText() == "(the model is writing…)"
    panel.clear()
    assert panel.initial_card.explanation.toPlainText() == ""
    assert not panel.raw_button.isEnabled()


def test_both_cards_stream_their_own_answers_token_by_token(qtbot):
    """Query 1's and Query 2's answers interleaved, each shown whole and exact; a card cleared
    or filled by other code mid-stream shows the stream again, not a mix."""
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    body1 = "Line one.\nLine two with ünïcödé and more words. " * 3
    body2 = "The close-ups show a seam. " * 3
    first, second = "<explanation>" + body1, "<explanation>" + body2
    for end in [*range(1, max(len(first), len(second)), 3), max(len(first), len(second))]:
        panel.set_streaming(1, first[:end])
        panel.set_streaming(2, second[:end])
    assert panel.initial_card.explanation.toPlainText() == body1.strip()
    assert panel.final_card.explanation.toPlainText() == body2.strip()
    panel.final_card.explanation.setPlainText("something else")
    panel.set_streaming(2, second + "More")
    assert panel.final_card.explanation.toPlainText().endswith("seam. More")
    assert "something else" not in panel.final_card.explanation.toPlainText()
    panel.clear()
    panel.set_streaming(1, "<explanation>New image")
    assert panel.initial_card.explanation.toPlainText() == "New image"


def test_finding_selection_and_highlight(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(_analysis())
    with qtbot.waitSignal(panel.finding_selected, timeout=1000) as blocker:
        panel.findings_list.setCurrentRow(1)
    assert blocker.args == [2]

    emitted: list[int] = []
    panel.finding_selected.connect(emitted.append)
    panel.highlight_region(1)
    selected = panel.findings_list.selectedItems()
    assert [i.text() for i in selected] == ["● 1  six fingers → AI-generated"]
    panel.highlight_region(None)
    assert panel.findings_list.selectedItems() == []
    assert emitted == []


def test_finding_click_emits(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(_analysis())
    panel.show()
    qtbot.waitExposed(panel)
    rect = panel.findings_list.visualItemRect(panel.findings_list.item(0))
    with qtbot.waitSignal(panel.finding_selected, timeout=1000) as blocker:
        qtbot.mouseClick(
            panel.findings_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
        )
    assert blocker.args == [1]


def test_raw_dialog_holds_both_raw_texts(qtbot):
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(_analysis())
    panel.raw_button.click()
    dialog = panel.raw_dialog
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.parent() is panel
    assert dialog.query1_text.toPlainText() == "raw 1"
    assert dialog.query2_text.toPlainText() == "raw 2"
    assert dialog.query1_text.isReadOnly()
    panel.show_analysis(_analysis(query2=False))  # the open dialog follows, and is reused
    assert panel.raw_dialog is dialog
    assert "skipped" in dialog.query2_text.toPlainText()
    dialog.close()


# -- examiner panel ---------------------------------------------------------------------------


def test_examiner_panel_refuses_empty_name(qtbot):
    panel = ExaminerPanel()
    qtbot.addWidget(panel)
    assert not panel.isEnabled()
    analysis = _analysis()
    panel.set_analysis(analysis)
    assert panel.isEnabled() and not panel.has_unsaved_changes()
    panel.notes_edit.setPlainText("look at the hands")
    assert panel.has_unsaved_changes() and not panel.unsaved_label.isHidden()
    emitted: list[object] = []
    panel.save_requested.connect(lambda *args: emitted.append(args))
    panel.save_button.click()
    assert emitted == []
    assert "name" in panel.message_label.text() and not panel.message_label.isHidden()
    assert analysis.examiner.updated is None


def test_examiner_panel_saves_with_timestamp(qtbot):
    panel = ExaminerPanel()
    qtbot.addWidget(panel)
    panel.set_default_examiner("Dana Scully")
    analysis = _analysis()
    panel.set_analysis(analysis)
    assert panel.name_edit.text() == "Dana Scully"
    assert not panel.has_unsaved_changes()
    panel.notes_edit.setPlainText("hands are wrong")
    panel.override_combo.setCurrentIndex(panel.override_combo.findText("AI-generated"))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with qtbot.waitSignal(panel.save_requested, timeout=1000) as blocker:
        panel.save_button.click()
    assert blocker.args[0] is analysis
    entry = blocker.args[1]
    assert (entry.examiner, entry.notes, entry.override_verdict) == (
        "Dana Scully", "hands are wrong", "ai-generated")
    assert dt.datetime.fromisoformat(entry.updated) >= before
    # not "saved" before the window says the write succeeded
    assert panel.status_label.text() == "Saving…" and analysis.examiner.updated is None
    assert panel.has_unsaved_changes()
    panel.save_failed(analysis.id, "disk full")
    assert panel.status_label.text() == "NOT SAVED: disk full"
    assert panel.notes_edit.toPlainText() == "hands are wrong" and panel.has_unsaved_changes()
    panel.save_succeeded(analysis.id, entry)
    assert analysis.examiner is entry
    assert panel.status_label.text().startswith("Saved by Dana Scully at ")
    assert panel.status_label.text().endswith(" UTC")
    assert not panel.has_unsaved_changes() and panel.unsaved_label.isHidden()
    # reloading shows the saved values; "No override" maps back to None; Inconclusive exists
    panel.set_analysis(None)
    assert not panel.isEnabled()
    panel.set_analysis(analysis)
    assert panel.override_combo.currentData() == "ai-generated"
    assert panel.override_combo.findData("inconclusive") >= 0
    panel.override_combo.setCurrentIndex(0)
    with qtbot.waitSignal(panel.save_requested, timeout=1000) as blocker:
        panel.save()
    assert blocker.args[1].override_verdict is None
    # a draft given back by the window is shown as unsaved
    panel.set_analysis(analysis, draft=("Dana Scully", "inconclusive", "kept"))
    assert panel.notes_edit.toPlainText() == "kept" and panel.has_unsaved_changes()
    assert panel.draft() == ("Dana Scully", "inconclusive", "kept")


# -- settings ---------------------------------------------------------------------------------


def test_settings_round_trip(tmp_path):
    path = tmp_path / "sub" / "settings.toml"
    settings = AppSettings(
        model_source="Qwen/Qwen2.5-VL-3B-Instruct", adapter="org/adapter", device="cuda",
        quantization="4bit", max_regions=6, closeup_max_pixels=400 * 400, magnification=2.5,
        animation=False, examiner='Ana "Q" Ñ\\x', server_url="http://localhost:8000/v1",
        server_model="qwen",
    )  # fmt: skip
    save_settings(settings, path)
    text = path.read_text(encoding="utf-8")
    assert "# " in text and "LTE_API_KEY" in text
    assert load_settings(path) == (settings, [])
    assert not list(path.parent.glob("*.tmp"))
    policy = to_closeup_policy(settings)
    assert isinstance(policy, CloseupPolicy)
    assert (policy.max_regions, policy.max_pixels, policy.magnification) == (6, 160000, 2.5)
    spec = to_local_spec(settings)
    assert (spec.source, spec.adapter, spec.device, spec.quantization) == (
        "Qwen/Qwen2.5-VL-3B-Instruct", "org/adapter", "cuda", "4bit")
    assert to_local_spec(AppSettings()) is None


def test_missing_file_gives_defaults(tmp_path):
    assert load_settings(tmp_path / "none.toml") == (AppSettings(), [])


def test_invalid_values_are_reported_and_only_those_replaced(tmp_path):
    path = tmp_path / "settings.toml"
    content = (
        'device = "gpu7"\nmax_regions = 0\ncolour_scheme = "dark"\n'
        'examiner = "Dana"\nmagnification = 3\n'
    )
    path.write_text(content, encoding="utf-8")
    mtime = os.stat(path).st_mtime_ns
    settings, problems = load_settings(path)
    assert len(problems) == 3, problems
    joined = "\n".join(problems)
    assert "device" in joined and "gpu7" in joined
    assert "max_regions" in joined and "= 0" in joined
    assert "colour_scheme" in joined and "dark" in joined
    assert (settings.device, settings.max_regions) == ("auto", 4)
    assert (settings.examiner, settings.magnification) == ("Dana", 3.0)
    assert path.read_text(encoding="utf-8") == content and os.stat(path).st_mtime_ns == mtime


def test_wrong_type_and_secret_keys(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('animation = "yes"\napi_key = "sk-secret"\n', encoding="utf-8")
    settings, problems = load_settings(path)
    assert settings.animation is True
    assert any("animation" in p and "'yes'" in p for p in problems)
    secret = [p for p in problems if "api_key" in p]
    assert secret and "sk-secret" not in secret[0] and "LTE_API_KEY" in secret[0]


def test_syntax_error_is_reported_and_file_kept(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("device = \n[[[", encoding="utf-8")
    settings, problems = load_settings(path)
    assert settings == AppSettings()
    assert len(problems) == 1 and "not valid TOML" in problems[0]
    assert path.read_text(encoding="utf-8") == "device = \n[[["


def test_validate_and_save_refuse_bad_values(tmp_path):
    bad = AppSettings(max_regions=0, server_url="ftp://x")
    problems = validate(bad)
    assert any("max_regions" in p for p in problems) and any("server_url" in p for p in problems)
    with pytest.raises(ValueError, match="max_regions"):
        save_settings(bad, tmp_path / "s.toml")
    assert not (tmp_path / "s.toml").exists()
    assert validate(AppSettings(adapter="org/a")) == [
        "adapter = 'org/a': an adapter needs its base model in model_source"
    ]


def test_settings_path_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("LTE_SETTINGS", str(tmp_path / "x.toml"))
    assert settings_path() == tmp_path / "x.toml"
    monkeypatch.delenv("LTE_SETTINGS")
    assert settings_path().name == "settings.toml"
    assert "lte-inspector" in str(settings_path())


def test_dialog_stays_open_while_invalid(qtbot, tmp_path):
    dialog = SettingsDialog(AppSettings(examiner="Dana"), path=tmp_path / "s.toml")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.server_url_edit.setText("not a url")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.isVisible() and dialog.result() != dialog.DialogCode.Accepted
    assert "server_url" in dialog.problems_label.text()
    assert not dialog.problems_label.isHidden()
    dialog.server_url_edit.setText("https://example.org/v1")
    dialog.max_regions_spin.setValue(7)
    dialog.device_combo.setCurrentText("cpu")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.result() == dialog.DialogCode.Accepted and not dialog.isVisible()
    edited = dialog.settings()
    assert (edited.server_url, edited.max_regions, edited.device, edited.examiner) == (
        "https://example.org/v1", 7, "cpu", "Dana")
    assert validate(edited) == []
