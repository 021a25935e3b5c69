"""The close-up ablation switches and budget in the window's Settings: dialog, file, and the
analysis the window runs with them (real tiny taught model, offscreen)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")

from inspector.core.backends.base import GenerationSettings  # noqa: E402
from inspector.core.backends.local import LocalBackend, LocalModelSpec  # noqa: E402
from inspector.core.casestore import CaseStore  # noqa: E402
from inspector.gui.main_window import MainWindow  # noqa: E402
from inspector.gui.settings import (  # noqa: E402
    AppSettings,
    SettingsDialog,
    load_settings,
    save_settings,
    to_closeup_policy,
)


def test_dialog_sets_the_ablation_switches_and_they_reach_the_policy(qtbot, tmp_path):
    dialog = SettingsDialog(AppSettings(), path=tmp_path / "s.toml")
    qtbot.addWidget(dialog)
    assert dialog.closeup_budget_spin.text() == "no budget"  # 0 is said in words
    dialog.closeup_mode_combo.setCurrentText("random")
    dialog.closeup_seed_spin.setValue(9)
    dialog.region_order_combo.setCurrentText("largest")
    dialog.closeup_budget_spin.setValue(0.5)
    edited = dialog.settings()
    path = save_settings(edited, tmp_path / "s.toml")
    assert load_settings(path) == (edited, [])
    policy = to_closeup_policy(edited)
    assert (policy.mode, policy.seed, policy.region_order, policy.budget) == (
        "random", 9, "largest", 0.5)
    assert to_closeup_policy(AppSettings()).budget is None  # 0: no budget


def test_a_bad_switch_in_the_file_is_reported_and_the_default_used(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('closeup_mode = "shuffle"\nclose_budget = 1\ncloseup_budget = -1.0\n')
    settings, problems = load_settings(path)
    assert (settings.closeup_mode, settings.closeup_budget) == ("located", 0.0)
    text = "\n".join(problems)
    assert "closeup_mode = 'shuffle': must be one of located, random, none" in text
    assert "closeup_budget = -1.0" in text


def test_the_window_analyses_with_no_closeups_when_set(qtbot, taught_case, tmp_path,
                                                       monkeypatch):
    monkeypatch.setenv("LTE_SETTINGS", str(tmp_path / "settings.toml"))
    settings = AppSettings(animation=False, closeup_mode="none", forensics=False)
    backend = LocalBackend(LocalModelSpec(source=str(taught_case.model_dir), device="cpu"),
                           GenerationSettings(400, 400))
    window = MainWindow(settings, lambda: backend, case_folder=tmp_path / "case")
    qtbot.addWidget(window)
    window.show()
    photo = tmp_path / "photo.jpg"
    shutil.copy(taught_case.image_path, photo)
    with qtbot.waitSignal(window.queue.queue_idle, timeout=120_000):
        assert window.add_paths([photo]) == 1
    window.flush_case_writes()
    [analysis] = CaseStore.open(tmp_path / "case").latest()
    assert analysis.closeup_policy["mode"] == "none"
    assert analysis.query2 is None and analysis.closeups == []
    assert analysis.final_verdict == analysis.initial_verdict == "real"
    window.close()
