"""Downloading a model from the window, against a loopback hub (tests/fakehub.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from huggingface_hub import constants

from inspector.gui.main_window import MainWindow
from inspector.gui.settings import AppSettings
from tests.fakehub import FakeHub

REPO = "lte-test/tiny-vl"


@pytest.fixture
def online(monkeypatch):
    """conftest sets HF_HUB_OFFLINE=1 for the suite; this test talks to loopback only."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_download_from_the_window_with_progress(qtbot, online, tiny_model_dir, tmp_path):
    repo = tmp_path / "hub" / "tiny"
    shutil.copytree(tiny_model_dir, repo)
    window = MainWindow(AppSettings(), None, case_folder=tmp_path / "case")
    qtbot.addWidget(window)
    with FakeHub({REPO: repo}) as hub:
        dialog = window.start_download(REPO, dest=tmp_path / "models", endpoint=hub.endpoint)
        with qtbot.waitSignal(dialog.finished_download, timeout=120_000) as blocker:
            pass
    path = blocker.args[0]
    assert (tmp_path / "models") in Path(path).parents
    assert dialog.value() == 1000 and "Downloaded to" in dialog.labelText()
    assert "Downloaded lte-test/tiny-vl" in window.last_notice
    window.close()


def test_download_errors_are_shown_not_raised(qtbot, online, tmp_path):
    window = MainWindow(AppSettings(), None, case_folder=tmp_path / "case")
    qtbot.addWidget(window)
    with FakeHub({}) as hub:
        dialog = window.start_download("lte-test/missing", dest=tmp_path / "m",
                                       endpoint=hub.endpoint)
        with qtbot.waitSignal(dialog.download_failed, timeout=60_000):
            pass
    assert dialog.error and "lte-test/missing" in window.last_notice
    window.close()
