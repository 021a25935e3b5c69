"""The tiny offline Qwen2.5-VL model: tokenizer, chat template, init-tiny, loading, 4-bit, teach."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from trainer.cli import main
from trainer.teach import TeachSample, teach
from trainer.tiny import (
    CHAT_TEMPLATE,
    MAX_PIXELS,
    MIN_PIXELS,
    SPECIAL_TOKENS,
    build_tiny_model,
    build_tokenizer,
)

TARGET_HANDS = (
    "<explanation>The skin on the face is waxy and the hand on the left has six fingers."
    "</explanation>\n"
    '<regions>[{"bbox_2d": [12, 40, 88, 120], "label": "hand with six fingers"}, '
    '{"bbox_2d": [90, 10, 150, 70], "label": "waxy face"}]</regions>\n'
    "<verdict>ai-generated</verdict>"
)
TARGET_SIGN = (
    "<explanation>Natural sensor noise, consistent shadows and legible text on the sign."
    "</explanation>\n"
    '<regions>[{"bbox_2d": [0, 100, 140, 168], "label": "text on the sign"}]</regions>\n'
    "<verdict>real</verdict>"
)
SYSTEM = [{"role": "system", "content": [{"type": "text", "text": "You are an image analyst."}]}]


def _picture(kind: str, size: int = 256) -> Image.Image:
    """Small synthetic test pictures that differ clearly from each other."""
    if kind == "disc":
        im = Image.new("RGB", (size, size), (200, 40, 40))
        ImageDraw.Draw(im).ellipse((40, 40, size - 56, size - 56), fill=(250, 250, 250))
    elif kind == "stripes":
        im = Image.new("RGB", (size, size), (30, 60, 200))
        draw = ImageDraw.Draw(im)
        for y in range(0, size, 32):
            draw.rectangle((0, y, size, y + 12), fill=(240, 220, 20))
    else:
        raise ValueError(kind)
    return im


def _locate_messages(image: Image.Image, text: str = "Is this real?") -> list[dict]:
    return [
        *SYSTEM,
        {"role": "user", "content": [{"type": "image", "image": image},
                                     {"type": "text", "text": text}]},
    ]


def _greedy(model, processor, messages, max_new_tokens: int) -> list[int]:
    inputs = processor.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return out[0, inputs["input_ids"].shape[1]:].tolist()


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> tuple[Path, str]:
    """A tiny model written through the CLI, plus what the CLI printed."""
    out = tmp_path_factory.mktemp("tiny") / "model"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["init-tiny", str(out), "--seed", "0"])
    assert code == 0
    return out, buf.getvalue()


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    d, _ = tiny_dir
    return AutoProcessor.from_pretrained(d), AutoModelForImageTextToText.from_pretrained(d).eval()


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------


@settings(
    max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text())
@example(text=" leading space")
@example(text="\n\nnewlines first\r\n and  double  spaces \t tab \n")
@example(text='{"bbox_2d": [12, 40, 88, 120], "label": "hånd – 六 fingers 🙂"}')
@example(text="<explanation>a</explanation>\n<verdict>real</verdict>")
@example(text="e\u0301 (decomposed) vs \u00e9 (composed)")  # no NFC normalisation
@example(text="<|im_end|> inside text")
def test_tokenizer_round_trips_any_text(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text


def test_tokenizer_is_deterministic_and_sized(tokenizer):
    again = build_tokenizer()
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert 2000 <= len(tokenizer) <= 4000
    for token in SPECIAL_TOKENS:
        ids = tokenizer.encode(token, add_special_tokens=False)
        assert len(ids) == 1 and tokenizer.convert_ids_to_tokens(ids[0]) == token
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.padding_side == "left"
    # Forensic vocabulary is learnt: a typical answer is far shorter in tokens than in bytes.
    assert len(tokenizer.encode(TARGET_HANDS)) < len(TARGET_HANDS.encode()) / 2.5


def test_saved_tokenizer_round_trips_like_the_built_one(tokenizer, loaded):
    processor, _ = loaded
    text = TARGET_HANDS + "\n  ünïcode 照片 🙂\n"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert processor.tokenizer.encode(text, add_special_tokens=False) == ids
    assert processor.tokenizer.decode(ids) == text
    assert processor.tokenizer.decode(
        processor.tokenizer.encode("<|im_end|>x", add_special_tokens=False),
        skip_special_tokens=True,
    ) == "x"


# --------------------------------------------------------------------------------------------
# Chat template
# --------------------------------------------------------------------------------------------


def test_chat_template_format(tokenizer):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}]
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, chat_template=CHAT_TEMPLATE
    )
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    with_system = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                   {"role": "assistant", "content": [{"type": "text", "text": "A"}]}]
    assert tokenizer.apply_chat_template(with_system, tokenize=False) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
        "<|im_start|>assistant\nA<|im_end|>\n"
    )


_answers = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(["<", "{", "T", "a", "1", "[", '"', "é"]),
    st.text(),
)


@settings(
    max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(answer=_answers)
@example(answer=TARGET_HANDS)
def test_template_extends_the_generation_prompt_token_for_token(tokenizer, answer):
    """template(conv + answer + next turn) == template(conv, gen prompt) + tokens(answer) + ..."""
    conv = [*SYSTEM, {"role": "user", "content": [{"type": "image"},
                                                  {"type": "text", "text": "Locate."}]}]
    longer = [*conv, {"role": "assistant", "content": [{"type": "text", "text": answer}]},
              {"role": "user", "content": [{"type": "text", "text": "Close-up 1: hand\n"},
                                           {"type": "image"}, {"type": "text", "text": "Now?"}]}]
    prompt = tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=True,
                                           return_dict=False)
    full = tokenizer.apply_chat_template(longer, tokenize=True, return_dict=False)
    answer_ids = tokenizer.encode(answer, add_special_tokens=False)
    expected = [*prompt, *answer_ids, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert full[: len(expected)] == expected


def test_prefix_property_holds_through_the_processor_with_images(loaded):
    processor, _ = loaded
    q1 = _locate_messages(_picture("disc"))
    q2 = [*q1, {"role": "assistant", "content": [{"type": "text", "text": TARGET_HANDS}]},
          {"role": "user", "content": [{"type": "text", "text": "Close-up 1: hand\n"},
                                       {"type": "image", "image": _picture("stripes", 120)},
                                       {"type": "text", "text": "Examine."}]}]
    kw = dict(tokenize=True, return_dict=True, return_tensors="pt")
    a = processor.apply_chat_template(q1, add_generation_prompt=True, **kw)
    b = processor.apply_chat_template(q2, add_generation_prompt=True, **kw)
    answer = processor.tokenizer.encode(TARGET_HANDS, add_special_tokens=False)
    n = a["input_ids"].shape[1]
    assert b["input_ids"][0, :n].tolist() == a["input_ids"][0].tolist()
    assert b["input_ids"][0, n: n + len(answer)].tolist() == answer
    assert b["mm_token_type_ids"][0, :n].tolist() == a["mm_token_type_ids"][0].tolist()
    assert b["image_grid_thw"].shape[0] == 2


# --------------------------------------------------------------------------------------------
# init-tiny, loading, generation
# --------------------------------------------------------------------------------------------


def test_init_tiny_writes_a_safetensors_model_folder(tiny_dir):
    d, printed = tiny_dir
    names = {p.name for p in d.iterdir()}
    for required in ("config.json", "generation_config.json", "model.safetensors",
                     "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                     "processor_config.json", "README.md"):
        assert required in names, f"{required} missing from {sorted(names)}"
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]
    assert str(d.resolve()) in printed and "parameters:" in printed
    assert "not a detector" in (d / "README.md").read_text(encoding="utf-8").lower()
    config = json.loads((d / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"


def test_cli_help_and_usage_errors(capsys):
    assert main(["--help"]) == 0
    assert "init-tiny" in capsys.readouterr().out
    assert main(["init-tiny", "--help"]) == 0
    assert "random" in capsys.readouterr().out.lower()
    assert main([]) == 2
    assert main(["init-tiny", "x", "--seed", "not-a-number"]) == 2


def test_same_seed_same_weights(tmp_path, tiny_dir):
    d, _ = tiny_dir
    same = build_tiny_model(tmp_path / "same", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=1)
    weights = (d / "model.safetensors").read_bytes()
    assert (same / "model.safetensors").read_bytes() == weights
    assert (other / "model.safetensors").read_bytes() != weights


def test_config_points_at_our_special_tokens(loaded):
    processor, model = loaded
    tok = processor.tokenizer
    cfg = model.config
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert cfg.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert cfg.text_config.vocab_size >= len(tok) and cfg.text_config.vocab_size % 64 == 0
    eos = model.generation_config.eos_token_id
    assert set(eos) == {tok.convert_tokens_to_ids("<|im_end|>"),
                        tok.convert_tokens_to_ids("<|endoftext|>")}
    assert model.generation_config.pad_token_id == tok.pad_token_id
    assert cfg.text_config.hidden_size == cfg.vision_config.out_hidden_size
    head_dim = cfg.text_config.hidden_size // cfg.text_config.num_attention_heads
    assert sum(cfg.text_config.rope_parameters["mrope_section"]) == head_dim // 2
    # bitsandbytes 4-bit needs every Linear input to be a multiple of its 64-element block.
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            assert module.in_features % 64 == 0, name


def test_processor_resize_bounds_are_pinned(loaded):
    processor, _ = loaded
    size = processor.image_processor.size
    assert (size["shortest_edge"], size["longest_edge"]) == (MIN_PIXELS, MAX_PIXELS)
    inputs = processor.apply_chat_template(
        _locate_messages(_picture("disc")), tokenize=True, add_generation_prompt=True,
        return_dict=True, return_tensors="pt",
    )
    # 256x256 -> smart_resize -> 168x168 -> 12x12 patches -> 6x6 = 36 vision tokens.
    assert inputs["image_grid_thw"].tolist() == [[1, 12, 12]]
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert (inputs["input_ids"] == image_pad).sum().item() == 36
    assert int(inputs["mm_token_type_ids"].sum()) == 36
    assert processor.tokenizer.padding_side == "left"


def test_loads_with_auto_classes_and_generates(loaded):
    processor, model = loaded
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert model.dtype == torch.float32
    new = _greedy(model, processor, _locate_messages(_picture("disc")), max_new_tokens=12)
    assert 1 <= len(new) <= 12
    assert isinstance(processor.decode(new, skip_special_tokens=True), str)


def test_loads_in_4bit_nf4_on_cpu_and_generates(tiny_dir):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed (extra 'quant')")
    from transformers import AutoModelForImageTextToText, AutoProcessor, BitsAndBytesConfig

    d, _ = tiny_dir
    processor = AutoProcessor.from_pretrained(d)
    model = AutoModelForImageTextToText.from_pretrained(
        d, quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    )
    quantized = [n for n, m in model.named_modules() if type(m).__name__ == "Linear4bit"]
    assert any("language_model" in n for n in quantized)
    new = _greedy(model, processor, _locate_messages(_picture("stripes")), max_new_tokens=8)
    assert 1 <= len(new) <= 8


# --------------------------------------------------------------------------------------------
# teach
# --------------------------------------------------------------------------------------------


def _reproduces(model_dir: Path, messages, target: str) -> bool:
    """Greedy decoding of a freshly loaded model gives exactly `target`, then stops."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    target_ids = processor.tokenizer.encode(target, add_special_tokens=False)
    new = _greedy(model, processor, messages, max_new_tokens=len(target_ids) + 5)
    im_end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    return new == [*target_ids, im_end] and processor.decode(
        new, skip_special_tokens=True
    ) == target


def test_teach_one_sample_is_reproduced_exactly(tiny_dir, tmp_path, tokenizer):
    d, _ = tiny_dir
    assert 80 <= len(tokenizer.encode(TARGET_HANDS)) <= 130
    messages = _locate_messages(_picture("disc"))
    report = teach(d, [TeachSample(messages, TARGET_HANDS)], out_dir=tmp_path / "taught")
    assert report.exact, report
    assert report.steps <= 150 and report.final_loss < 0.5
    assert report.out_dir == tmp_path / "taught"
    assert _reproduces(tmp_path / "taught", messages, TARGET_HANDS)
    assert not _reproduces(d, messages, TARGET_HANDS)  # the base model was left untouched
    assert not [p for p in (tmp_path / "taught").iterdir() if p.suffix in (".bin", ".pt")]


def test_teach_two_samples_each_gets_its_own_answer(tiny_dir, tmp_path):
    d, _ = tiny_dir
    first = _locate_messages(_picture("disc"))
    second = _locate_messages(_picture("stripes"))
    samples = [TeachSample(first, TARGET_HANDS), TeachSample(second, TARGET_SIGN)]
    report = teach(d, samples, out_dir=tmp_path / "taught2", steps=300)
    assert report.exact, report
    assert _reproduces(tmp_path / "taught2", first, TARGET_HANDS)
    assert _reproduces(tmp_path / "taught2", second, TARGET_SIGN)


def test_teach_is_deterministic_and_can_overwrite_in_place(tiny_dir, tmp_path):
    import shutil

    d, _ = tiny_dir
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(d, a)
    sample = [TeachSample(_locate_messages(_picture("disc")), TARGET_SIGN)]
    ra = teach(a, sample, steps=6, until_exact=False, seed=3)  # out_dir defaults to model_dir
    rb = teach(d, sample, out_dir=b, steps=6, until_exact=False, seed=3)
    assert ra.steps == rb.steps == 6 and ra.losses == rb.losses
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (d / "model.safetensors").read_bytes()
    assert "trainer.teach" in (a / "README.md").read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".teach-")]


def test_interleaved_mrope_lets_attention_tell_neighbouring_columns_apart():
    """Qwen's [4, 6, 6] split gives width the lowest rotary frequencies: at base 1e6 two
    neighbouring image columns get practically the same rotation, so no attention can tell them
    apart (decision 0004). Sixteen one-frequency parts interleave t, h, w through the stock
    Qwen2.5-VL code and give width high frequencies too, while text keeps the low ones."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRotaryEmbedding

    from trainer.tiny import INTERLEAVED_MROPE_SECTION, tiny_config

    # (t, h, w) of two image tokens in one row, neighbouring columns
    positions = torch.tensor([[[5, 5]], [[7, 7]], [[7, 8]]])

    def column_change(section):
        config = tiny_config(size="demo", mrope_section=section).text_config
        cos, _ = Qwen2_5_VLRotaryEmbedding(config)(torch.zeros(1), positions)
        return float((cos[0, 0] - cos[0, 1]).abs().max())

    assert column_change(None) < 1e-3
    assert column_change(list(INTERLEAVED_MROPE_SECTION)) > 0.1
    with pytest.raises(ValueError, match="summing to 16"):
        tiny_config(size="demo", mrope_section=[4, 6, 7])
