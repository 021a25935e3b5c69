"""Prompt-lookup decoding for Query 2: a speed setting that never changes the answer."""

from __future__ import annotations

from dataclasses import replace

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.closeups import CloseupPolicy
from inspector.core.pipeline import Pipeline, PipelineOptions


def _analyse(model_dir, image, prompt_lookup_tokens: int):
    settings = replace(GenerationSettings.with_token_limit(300),
                       prompt_lookup_tokens=prompt_lookup_tokens)
    backend = LocalBackend(LocalModelSpec(source=str(model_dir), hash_weights=False), settings)
    return Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(image)


def test_prompt_lookup_gives_the_same_answer_token_for_token(taught_case):
    plain = _analyse(taught_case.model_dir, taught_case.image_path, 0)
    looked_up = _analyse(taught_case.model_dir, taught_case.image_path, 10)
    assert plain.query2 is not None and plain.query2.verdict == "ai-generated"
    for a, b in ((plain.query1, looked_up.query1), (plain.query2, looked_up.query2)):
        assert b.raw_text == a.raw_text
        assert b.generated_tokens == a.generated_tokens
        assert b.stop_reason == a.stop_reason
        assert b.confidence == a.confidence or abs(b.confidence - a.confidence) < 1e-5
    # Query 1 has nothing to copy from and keeps its path; Query 2 recomputes its prompt
    assert looked_up.query1.prefill_tokens == plain.query1.prefill_tokens
    assert looked_up.query2.prefill_tokens == looked_up.query2.prompt_tokens
    assert looked_up.model.generation["prompt_lookup_tokens"] == 10
    assert "prompt_lookup_tokens" not in plain.model.generation
