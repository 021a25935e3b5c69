"""What the local-model benchmarks share: the random "bench" Qwen2.5-VL, its command-line
arguments, and the close-ups of one image (the model's regions, else three fixed boxes).

The bench model (about 60M parameters, real architecture, image bounds 64..512 x 28 x 28 pixels)
weighs vision tokens as a real model does. Being random it writes no parsable regions, so
close-ups are then cut from three fixed boxes (a face-sized centre box and two details); a trained
model's own regions are used when it writes them. It never stops early, so every answer is
exactly --max-new-tokens long.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inspector.core.closeups import CloseupPolicy, plan_closeups, render_closeup  # noqa: E402
from inspector.core.geometry import Box  # noqa: E402
from inspector.core.protocol import parse_locate  # noqa: E402

BENCH_MIN_PIXELS = 64 * 28 * 28
BENCH_MAX_PIXELS = 512 * 28 * 28
BENCH_MODEL_LABEL = "random bench Qwen2.5-VL (benchmarks/_bench_model.py)"


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --images and --max-new-tokens, as every local-model benchmark takes them."""
    parser.add_argument("--model", help="model folder (default: build the random bench model)")
    parser.add_argument("--images", nargs="+", default=[str(ROOT / "resources" / "samples")])
    parser.add_argument("--max-new-tokens", type=int, default=128)


@contextlib.contextmanager
def model_folder(model: str | None) -> Iterator[str]:
    """``model``, or without one a bench model built into a temp folder removed afterwards."""
    if model is not None:
        yield model
        return
    with tempfile.TemporaryDirectory(prefix="lte-bench-") as tmp:
        yield str(build_bench_model(Path(tmp) / "bench"))


def build_bench_model(out_dir: Path, seed: int = 0) -> Path:
    """A random Qwen2.5-VL with more realistic proportions than the test model."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from trainer.tiny import build_processor, build_tokenizer, tiny_config

    tok = build_tokenizer()
    data = tiny_config(seed, tok).to_dict()
    data["text_config"].update(
        hidden_size=512, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=8,
        num_key_value_heads=2, max_window_layers=8,
    )
    data["text_config"].pop("layer_types", None)  # re-derived for the new depth
    data["text_config"]["rope_parameters"]["mrope_section"] = [8, 12, 12]  # head_dim 64
    data["vision_config"].update(
        depth=8, hidden_size=256, intermediate_size=768, num_heads=4, out_hidden_size=512,
        fullatt_block_indexes=[3, 7],
    )
    config = Qwen2_5_VLConfig(**data)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    model.generation_config = GenerationConfig(
        eos_token_id=[tok.convert_tokens_to_ids("<|im_end|>"), eot], pad_token_id=eot
    )
    model.save_pretrained(out_dir)
    processor = build_processor(tok)
    processor.image_processor.size = {
        "shortest_edge": BENCH_MIN_PIXELS, "longest_edge": BENCH_MAX_PIXELS,
    }
    processor.save_pretrained(out_dir)
    return out_dir


def fallback_boxes(width: int, height: int) -> list[Box]:
    return [
        Box(width * 0.40, height * 0.30, width * 0.60, height * 0.55),
        Box(width * 0.10, height * 0.65, width * 0.25, height * 0.85),
        Box(width * 0.70, height * 0.10, width * 0.88, height * 0.28),
    ]


def closeups_for(backend, loaded, answer1: str, policy: CloseupPolicy | None = None) -> list:
    """The close-ups Query 2 sends for ``loaded`` (a LoadedImage) after Query 1's ``answer1``:
    of the model's own regions, else of :func:`fallback_boxes`."""
    size = (loaded.width, loaded.height)
    space = backend.coordinate_space
    boxes = [b for r in parse_locate(answer1).regions
             if (b := space.from_model(r.coords, size)) is not None]
    plans = plan_closeups(boxes or fallback_boxes(*size), size, space.view_scale(size),
                          policy or CloseupPolicy(), loaded.sha256, processor=space)  # as the app
    return [("region", render_closeup(loaded.image, p)) for p in plans]
