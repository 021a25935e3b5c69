"""Prompt-lookup decoding for Query 2: a speed setting that never changes the answer.

It continues from the reused KV cache (lookup_decoding.py), so Query 2 keeps its cheap prefill.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.backends.lookup_decoding import propose_draft
from inspector.core.closeups import CloseupPolicy
from inspector.core.imageio import load_image
from inspector.core.pipeline import Pipeline, PipelineOptions
from inspector.core.protocol import examine_messages, locate_messages

DEMO_MODEL = Path(__file__).resolve().parent.parent / "resources" / "demo-model"
SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"


def _backend(model_dir, prompt_lookup_tokens: int, reuse: bool = True,
             max_new_tokens: int = 300) -> LocalBackend:
    settings = replace(GenerationSettings.with_token_limit(max_new_tokens),
                       prompt_lookup_tokens=prompt_lookup_tokens)
    spec = LocalModelSpec(source=str(model_dir), hash_weights=False, reuse_cache=reuse)
    return LocalBackend(spec, settings)


def _analyse(backend: LocalBackend, image):
    return Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(image)


def _assert_same_turns(plain, looked_up) -> None:
    for a, b in ((plain.query1, looked_up.query1), (plain.query2, looked_up.query2)):
        assert b.raw_text == a.raw_text
        assert b.generated_tokens == a.generated_tokens
        assert b.stop_reason == a.stop_reason
        assert (b.confidence is None) == (a.confidence is None)
        if a.confidence is not None:
            assert abs(b.confidence - a.confidence) < 1e-5


def test_a_draft_copies_what_followed_the_latest_occurrence_of_the_last_ngram():
    ids = [5, 1, 2, 3, 9, 9, 1, 2, 3, 7, 8, 4, 1, 2, 3]
    assert propose_draft(ids, 2) == [7, 8]  # 3-gram (1, 2, 3): latest earlier match
    assert propose_draft([1, 2, 6, 2], 3) == [6, 2]  # only the 1-gram (2) matches
    assert propose_draft([1, 2, 3], 4) == []  # nothing repeats
    assert propose_draft(ids, 0) == []


@pytest.mark.parametrize("reuse", [True, False], ids=["kv-reuse", "no-reuse"])
def test_prompt_lookup_gives_the_same_answer_token_for_token(taught_case, reuse):
    plain = _analyse(_backend(taught_case.model_dir, 0, reuse), taught_case.image_path)
    looked_up = _analyse(_backend(taught_case.model_dir, 10, reuse), taught_case.image_path)
    assert plain.query2 is not None and plain.query2.verdict == "ai-generated"
    assert plain.query2.confidence is not None
    _assert_same_turns(plain, looked_up)
    # Query 1 has nothing to copy from and keeps its path; Query 2 keeps the reused cache
    assert looked_up.query1.prefill_tokens == plain.query1.prefill_tokens
    assert looked_up.query2.prefill_tokens == plain.query2.prefill_tokens
    if reuse:
        assert looked_up.query2.prefill_tokens < looked_up.query2.prompt_tokens
    assert looked_up.model.generation["prompt_lookup_tokens"] == 10
    assert "prompt_lookup_tokens" not in plain.model.generation


def test_prompt_lookup_on_the_demo_model_keeps_answers_and_reuses_the_cache():
    plain_backend = _backend(DEMO_MODEL, 0, max_new_tokens=96)
    lookup_backend = _backend(DEMO_MODEL, 10, max_new_tokens=96)
    accepted = 0
    for name in ("astronaut.jpg", "coffee.jpg"):
        plain = _analyse(plain_backend, SAMPLES / name)
        looked_up = _analyse(lookup_backend, SAMPLES / name)
        assert plain.query2 is not None, f"the demo model examined nothing in {name}"
        _assert_same_turns(plain, looked_up)
        assert looked_up.query2.prefill_tokens == plain.query2.prefill_tokens
        assert looked_up.query2.prefill_tokens < looked_up.query2.prompt_tokens
    # the drafts are used at all: check one Query 2 directly for its acceptance figures
    loaded = load_image(SAMPLES / "astronaut.jpg")
    m1 = locate_messages(loaded.image, lookup_backend.coordinate_space.name)
    t1 = lookup_backend.generate_turn(m1, max_new_tokens=96)
    t2 = lookup_backend.generate_turn(examine_messages(m1, t1.text, []), max_new_tokens=96)
    accepted = t2.details["lookup_accepted"]
    assert 0 < accepted < t2.generated_tokens
    assert t2.details["lookup_forwards"] < t2.generated_tokens


def test_cancel_stops_query2_within_one_verifying_forward(taught_case):
    backend = _backend(taught_case.model_dir, 10)
    loaded = load_image(taught_case.image_path)
    m1 = locate_messages(loaded.image, backend.coordinate_space.name)
    t1 = backend.generate_turn(m1, max_new_tokens=300)
    pieces: list[str] = []
    t2 = backend.generate_turn(
        examine_messages(m1, t1.text, []), max_new_tokens=300,
        on_token=pieces.append, is_cancelled=lambda: len(pieces) >= 2,
    )
    assert t2.stop_reason == "cancelled"
    assert t2.prefill_tokens < t2.prompt_tokens
    # the first token, then one verifying forward: up to 10 drafted tokens + its own
    assert len(pieces) >= 2 and t2.generated_tokens <= 1 + 10 + 1
    assert "".join(pieces) == t2.text


def test_prompt_lookup_is_a_command_line_option_and_a_setting(taught_case, tmp_path):
    import json

    from inspector.cli import main
    from inspector.core.app_settings import (
        AppSettings,
        load_settings,
        save_settings,
        to_generation_settings,
    )

    out = tmp_path / "r.jsonl"
    assert main(["analyze", str(taught_case.image_path), "--model", str(taught_case.model_dir),
                 "--device", "cpu", "--max-new-tokens", "400", "--prompt-lookup", "8",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text().splitlines()[0])["analysis"]
    assert record["model"]["generation"]["prompt_lookup_tokens"] == 8
    assert record["query2"]["raw_text"] == taught_case.examine_answer  # the same answer

    path = save_settings(AppSettings(prompt_lookup=10), tmp_path / "s.toml")
    settings, problems = load_settings(path)
    assert problems == [] and to_generation_settings(settings).prompt_lookup_tokens == 10
    path.write_text("prompt_lookup = -1\n")
    settings, problems = load_settings(path)
    assert settings.prompt_lookup == 0 and "must be 0 (off) to 64" in problems[0]
