"""`lte-inspect models` lists every preset with its memory need, and presets load."""

from __future__ import annotations

import pytest

from inspector.cli import main
from inspector.core.presets import PRESETS


def test_models_lists_every_preset_with_memory(capsys):
    assert main(["models", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        assert name in out
    assert "needs about" in out and "GiB" in out
    assert "free memory" in out


def test_unknown_preset_is_a_clear_error(capsys, photo_path):
    assert main(["analyze", str(photo_path), "--preset", "qwen9-huge"]) == 2
    assert "qwen2.5-vl-7b-4bit" in capsys.readouterr().err  # the message lists the presets


@pytest.mark.parametrize("preset", ["qwen2.5-vl-7b-4bit", "qwen3-vl-8b-bf16"])
def test_preset_without_weights_says_how_to_download(capsys, photo_path, preset):
    assert main(["analyze", str(photo_path), "--preset", preset]) == 2
    assert "lte-inspect download" in capsys.readouterr().err
