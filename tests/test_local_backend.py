"""The transformers backend: loading variants, KV-cache reuse, pixel bounds, errors."""

from __future__ import annotations

import pytest
from PIL import Image

from inspector.core.backends.base import BackendError, GenerationSettings, ModelNotFoundError
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.closeups import CloseupPolicy
from inspector.core.geometry import Box
from inspector.core.pipeline import Pipeline, PipelineOptions
from inspector.core.protocol import examine_messages, locate_messages

GREEDY_40 = GenerationSettings(max_new_tokens_locate=40, max_new_tokens_examine=40)


def _backend(model_dir, reuse=True, **spec):
    return LocalBackend(
        LocalModelSpec(source=str(model_dir), device="cpu", reuse_cache=reuse, **spec), GREEDY_40
    )


def _two_turns(backend, image):
    """Query 1, then a Query 2 with two close-ups; returns both turn results."""
    space = backend.coordinate_space
    m1 = locate_messages(image, space.name)
    t1 = backend.generate_turn(m1, max_new_tokens=40)
    crops = [("left", image.crop((0, 0, 120, 100))), ("right", image.crop((150, 90, 300, 230)))]
    t2 = backend.generate_turn(examine_messages(m1, t1.text, crops), max_new_tokens=40)
    backend.reset()
    return t1, t2


def test_query2_with_cache_reuse_equals_without(tiny_model_dir, photo_path):
    """Greedy output of a random model is very sensitive: any position/feature bug shows."""
    image = Image.open(photo_path).convert("RGB")
    with_reuse = _two_turns(_backend(tiny_model_dir, reuse=True), image)
    without = _two_turns(_backend(tiny_model_dir, reuse=False), image)
    assert with_reuse[0].text == without[0].text
    assert with_reuse[1].text == without[1].text
    assert with_reuse[1].generated_tokens == without[1].generated_tokens > 0
    # only the new turn was prefilled
    assert without[1].prefill_tokens == without[1].prompt_tokens
    assert with_reuse[1].prefill_tokens < with_reuse[1].prompt_tokens
    assert with_reuse[1].prompt_tokens - with_reuse[1].prefill_tokens >= with_reuse[0].prompt_tokens


def test_taught_pipeline_same_with_and_without_reuse(taught_case):
    results = []
    for reuse in (True, False):
        backend = LocalBackend(
            LocalModelSpec(source=str(taught_case.model_dir), device="cpu", reuse_cache=reuse),
            GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400),
        )
        pipeline = Pipeline(backend, PipelineOptions(policy=CloseupPolicy()))
        results.append(pipeline.analyze(taught_case.image_path))
    assert results[0].query2.raw_text == results[1].query2.raw_text == taught_case.examine_answer
    assert results[0].query2.confidence == pytest.approx(results[1].query2.confidence, abs=1e-4)


def test_processor_resize_matches_the_box_conversion(tiny_model_dir):
    backend = _backend(tiny_model_dir)
    for size in [(320, 240), (97, 413), (1000, 30), (28, 28)]:
        image = Image.new("RGB", size, "grey")
        inputs = backend._encode(locate_messages(image, backend.coordinate_space.name))
        _, h, w = (int(v) for v in inputs["image_grid_thw"][0])
        assert (w * 14, h * 14) == backend.coordinate_space.resized_size(size)


def test_pixel_bounds_can_be_pinned(tiny_model_dir):
    backend = _backend(tiny_model_dir, min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    assert (backend.min_pixels, backend.max_pixels) == (28 * 28 * 4, 28 * 28 * 16)
    image = Image.new("RGB", (640, 480))
    inputs = backend._encode(locate_messages(image, backend.coordinate_space.name))
    t, h, w = (int(v) for v in inputs["image_grid_thw"][0])
    assert h * w * 14 * 14 <= 28 * 28 * 16
    assert backend.provenance.generation["max_pixels"] == 28 * 28 * 16


def test_provenance_names_the_weights(tiny_model_dir):
    p = _backend(tiny_model_dir).provenance
    assert p.backend == "transformers" and p.model_type == "qwen2_5_vl"
    assert len(p.weights_sha256) == 64
    assert p.prompts_version and p.software_version


def test_4bit_nf4_loads_and_runs_on_cpu(taught_case):
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb
    import torch

    backend = LocalBackend(
        LocalModelSpec(source=str(taught_case.model_dir), device="cpu", quantization="4bit"),
        GenerationSettings(max_new_tokens_locate=60, max_new_tokens_examine=60),
    )
    assert backend.provenance.quantization == "4bit"
    layers = [m for m in backend.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers, "no 4-bit layers: quantization did not happen"
    vision = backend.core.model.visual
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in vision.modules())
    assert vision.blocks[0].attn.qkv.weight.dtype == torch.float32  # kept in full precision
    analysis = Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(
        taught_case.image_path
    )
    assert analysis.query1.generated_tokens > 0


def test_lora_adapter_over_base(tiny_model_dir, tmp_path, photo_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    adapter_dir = tmp_path / "adapter"
    peft_model.save_pretrained(adapter_dir)
    (adapter_dir / "adapter_config.json").write_text(
        (adapter_dir / "adapter_config.json")
        .read_text()
        .replace(
            '"base_model_name_or_path": null', f'"base_model_name_or_path": "{tiny_model_dir}"'
        )
    )
    image = Image.open(photo_path).convert("RGB")
    plain = _backend(tiny_model_dir)
    adapted = _backend(tiny_model_dir, adapter=str(adapter_dir))
    assert adapted.provenance.adapter_id == str(adapter_dir)
    m = locate_messages(image, plain.coordinate_space.name)
    assert adapted.generate_turn(m, max_new_tokens=20).text != plain.generate_turn(
        m, max_new_tokens=20
    ).text
    # an adapter folder given as the model loads its base by itself
    alone = LocalBackend(LocalModelSpec(source=str(adapter_dir), device="cpu"), GREEDY_40)
    assert alone.generate_turn(m, max_new_tokens=20).text == adapted.generate_turn(
        m, max_new_tokens=20
    ).text


def test_missing_models_give_clear_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        LocalBackend(LocalModelSpec(source=str(tmp_path / "nope")))
    with pytest.raises(ModelNotFoundError, match="downloads are off"):
        LocalBackend(LocalModelSpec(source="Qwen/Qwen2.5-VL-7B-Instruct"))
    with pytest.raises(BackendError, match="quantization"):
        LocalBackend(LocalModelSpec(source=str(tmp_path), quantization="3bit"))
    with pytest.raises(BackendError, match="could not load"):
        LocalBackend(LocalModelSpec(source=str(tmp_path)))  # an empty folder


def test_closeup_boxes_stay_inside_the_image(taught_case):
    """Guards the crop boxes recorded for the report against off-image coordinates."""
    backend = LocalBackend(
        LocalModelSpec(source=str(taught_case.model_dir), device="cpu"),
        GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400),
    )
    analysis = Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(
        taught_case.image_path
    )
    assert [c.region for c in analysis.closeups] == [1, 2]  # something was checked
    for c in analysis.closeups:
        box = Box(*c.crop_box)
        assert 0 <= box.x1 < box.x2 <= 320 and 0 <= box.y1 < box.y2 <= 240


def test_out_of_memory_is_explained_and_the_backend_stays_usable(tiny_model_dir, photo_path):
    """A CUDA OOM cannot happen on this CPU machine, so generate() is made to raise one (mock)."""
    import torch

    from inspector.core.backends.base import OutOfMemoryError

    backend = _backend(tiny_model_dir)
    image = Image.open(photo_path).convert("RGB")
    messages = locate_messages(image, backend.coordinate_space.name)
    real_generate = backend.model.generate

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    backend.model.generate = out_of_memory
    try:
        with pytest.raises(OutOfMemoryError, match="4-bit"):
            backend.generate_turn(messages, max_new_tokens=5)
    finally:
        backend.model.generate = real_generate
    assert backend.generate_turn(messages, max_new_tokens=5).generated_tokens == 5
