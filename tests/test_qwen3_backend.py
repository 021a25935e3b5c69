"""Qwen3-VL through the same backend: 0-1000 boxes, patch-16 resize, KV-cache reuse."""

from __future__ import annotations

import pytest
from PIL import Image

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.closeups import CloseupPolicy
from inspector.core.pipeline import Pipeline, PipelineOptions
from inspector.core.protocol import examine_messages, locate_messages
from tests.conftest import teach_lte_answers

SETTINGS = GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400)


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory):
    from trainer.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("q3") / "model", seed=0, family="qwen3_vl")


def test_qwen3_uses_relative_coordinates_and_its_own_resize(qwen3_dir):
    backend = LocalBackend(LocalModelSpec(source=str(qwen3_dir), device="cpu"), SETTINGS)
    assert backend.provenance.model_type == "qwen3_vl"
    assert backend.coordinate_space.name == "qwen3_vl_relative"
    for size in [(320, 240), (97, 413), (640, 64)]:
        inputs = backend._encode(locate_messages(Image.new("RGB", size), "qwen3_vl_relative"))
        _, h, w = (int(v) for v in inputs["image_grid_thw"][0])
        assert (w * 16, h * 16) == backend.coordinate_space.resized_size(size)


def test_qwen3_cache_reuse_equals_without(qwen3_dir, photo_path):
    image = Image.open(photo_path).convert("RGB")
    outputs = []
    for reuse in (True, False):
        backend = LocalBackend(
            LocalModelSpec(source=str(qwen3_dir), device="cpu", reuse_cache=reuse), SETTINGS
        )
        m1 = locate_messages(image, backend.coordinate_space.name)
        t1 = backend.generate_turn(m1, max_new_tokens=30)
        crops = [("a", image.crop((0, 0, 120, 100))), ("b", image.crop((150, 90, 300, 230)))]
        t2 = backend.generate_turn(examine_messages(m1, t1.text, crops), max_new_tokens=30)
        outputs.append((t1.text, t2.text, t2.prefill_tokens < t2.prompt_tokens))
    assert outputs[0][:2] == outputs[1][:2]
    assert outputs[0][2] and not outputs[1][2]


def test_taught_qwen3_boxes_come_back_in_original_pixels(tmp_path, photo_path):
    from trainer.tiny import QWEN3_MAX_PIXELS, QWEN3_MIN_PIXELS, build_tiny_model

    model_dir = build_tiny_model(tmp_path / "q3", seed=1, family="qwen3_vl")
    case = teach_lte_answers(model_dir, photo_path, "qwen3_vl", QWEN3_MIN_PIXELS,
                             QWEN3_MAX_PIXELS)
    assert '"bbox_2d": [125, 125, 375, 458]' in case.locate_answer  # 0-1000 of 320x240
    backend = LocalBackend(LocalModelSpec(source=str(model_dir), device="cpu"), SETTINGS)
    analysis = Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(photo_path)
    assert (analysis.initial_verdict, analysis.final_verdict) == ("real", "ai-generated")
    for region, box in zip(analysis.regions, case.boxes, strict=True):
        assert region.box == pytest.approx(list(box), abs=0.4)  # 1/1000 of 320 px
