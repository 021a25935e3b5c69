"""Model presets: named ways to run the inspector, from a 4-bit 7B on a gaming GPU to a server.

A :class:`Preset` says *what* to load (hub id, family, dtype, quantization, resize bounds) and
carries the architecture numbers the memory estimate needs (:mod:`inspector.core.memory`).
``lte-inspect models`` lists :data:`PRESETS`; :func:`inspector.core.backends.spec.to_local_spec`
turns a preset into the :class:`~inspector.core.backends.spec.LocalModelSpec` the transformers
backend loads. This module is data only: it imports nothing from the backends, which read it.

The architecture numbers below are copied from the models' published ``config.json`` files on
the Hugging Face Hub (``text_config`` / ``vision_config``), and the parameter counts from their
model cards / safetensors index (total, including the vision tower). They drive estimates only;
loading always reads the real config.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from inspector.core.geometry import QWEN3_TOKEN_PIXELS, QWEN25_TOKEN_PIXELS

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Architecture",
    "Preset",
    "PresetError",
    "get_preset",
    "preset_names",
]

KINDS = ("local", "adapter", "remote", "demo")
MODEL_TYPES = ("qwen2_5_vl", "qwen3_vl")

# Image-resize bounds the presets pin (processor min/max pixels). Qwen2.5-VL: 28 px per vision
# token (patch 14 x merge 2), 256..1280 tokens, Qwen's recommended range. Qwen3-VL: 32 px per
# token (patch 16 x merge 2), the same token range.
QWEN25_MIN_PIXELS = 256 * QWEN25_TOKEN_PIXELS
QWEN25_MAX_PIXELS = 1280 * QWEN25_TOKEN_PIXELS
QWEN3_MIN_PIXELS = 256 * QWEN3_TOKEN_PIXELS
QWEN3_MAX_PIXELS = 1280 * QWEN3_TOKEN_PIXELS


class PresetError(ValueError):
    """Unknown preset name or a preset that cannot be turned into what was asked."""


@dataclass(frozen=True)
class Architecture:
    """The numbers of one checkpoint that size its memory: parameters, KV cache, activations."""

    model_type: str  # "qwen2_5_vl" | "qwen3_vl"
    params_billion: float  # all parameters, vision tower included
    vision_params_billion: float  # vision tower + patch merger(s)
    text_layers: int
    text_hidden: int
    text_intermediate: int
    text_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_embeddings: bool
    vision_hidden: int
    vision_intermediate: int
    patch_size: int  # 14 for Qwen2.5-VL, 16 for Qwen3-VL
    merge_size: int = 2

    @property
    def pixels_per_token(self) -> int:
        """Image pixels per vision token in the language model (after patch merging)."""
        return (self.patch_size * self.merge_size) ** 2

    @property
    def embedding_params_billion(self) -> float:
        """Input embedding plus output head (one matrix when tied); not quantized by the backend."""
        matrices = 1 if self.tie_embeddings else 2
        return matrices * self.vocab_size * self.text_hidden / 1e9

    @classmethod
    def from_folder(cls, folder: str | Path) -> Architecture:
        """Read a saved Qwen2.5-VL / Qwen3-VL checkpoint's numbers without loading it.

        Architecture from ``config.json``; parameter counts from the safetensors headers (the
        first bytes of each file), split into vision tower and the rest by tensor name.
        """
        folder = Path(folder)
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PresetError(f"{folder} has no readable config.json: {exc}") from exc
        model_type = config.get("model_type")
        if model_type not in MODEL_TYPES:
            raise PresetError(
                f"{folder}: model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}"
            )
        text = config.get("text_config") or config
        vision = config.get("vision_config") or {}
        total, visual = _count_safetensors_params(folder)
        heads = int(text["num_attention_heads"])
        hidden = int(text["hidden_size"])
        return cls(
            model_type=model_type,
            params_billion=total / 1e9,
            vision_params_billion=visual / 1e9,
            text_layers=int(text["num_hidden_layers"]),
            text_hidden=hidden,
            text_intermediate=int(text["intermediate_size"]),
            text_kv_heads=int(text.get("num_key_value_heads") or heads),
            head_dim=int(text.get("head_dim") or hidden // heads),
            vocab_size=int(text["vocab_size"]),
            tie_embeddings=bool(
                config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))
            ),
            vision_hidden=int(vision.get("hidden_size", 0)),
            vision_intermediate=int(vision.get("intermediate_size", 0)),
            patch_size=int(vision.get("patch_size", 14 if model_type == "qwen2_5_vl" else 16)),
            merge_size=int(vision.get("spatial_merge_size", 2)),
        )


def _count_safetensors_params(folder: Path) -> tuple[int, int]:
    """(all parameters, vision parameters) from the headers of ``folder/*.safetensors``."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise PresetError(f"{folder} has no *.safetensors weights")
    total = visual = 0
    for path in files:
        try:
            with open(path, "rb") as fh:
                (length,) = struct.unpack("<Q", fh.read(8))
                if length > 100_000_000:
                    raise ValueError("header too large")
                header = json.loads(fh.read(length))
        except (OSError, ValueError, struct.error) as exc:
            raise PresetError(f"{path} is not a readable safetensors file: {exc}") from exc
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in entry.get("shape", []):
                count *= int(dim)
            total += count
            if ".visual." in f".{name}":
                visual += count
    return total, visual


# Published configs (config.json on the Hub), checked 2025:
#  Qwen2.5-VL-3B:  text 36 x 2048, MLP 11008, 16 heads / 2 KV heads of 128, vocab 151936, tied.
#  Qwen2.5-VL-7B:  text 28 x 3584, MLP 18944, 28 heads / 4 KV heads of 128, vocab 152064.
#  Qwen2.5-VL-32B: text 64 x 5120, MLP 27648, 40 heads / 8 KV heads of 128, vocab 152064.
#  Qwen2.5-VL vision: 32 blocks x 1280, MLP 3420, patch 14, merge 2 (~0.67 B with the merger).
#  Qwen3-VL-8B:    text 36 x 4096, MLP 12288, 32 heads / 8 KV heads of 128, vocab 151936.
#  Qwen3-VL-32B:   text 64 x 5120, MLP 25600, 64 heads / 8 KV heads of 128, vocab 151936.
#  Qwen3-VL vision: 27 blocks x 1152, MLP 4304, patch 16, merge 2, 3 deepstack mergers (~0.58 B).
# Totals from the model cards: 3.75 B, 8.29 B, 33.5 B, 8.77 B, 33.4 B.
QWEN25_VL_3B = Architecture("qwen2_5_vl", 3.75, 0.67, 36, 2048, 11008, 2, 128, 151936, True,
                            1280, 3420, 14)
QWEN25_VL_7B = Architecture("qwen2_5_vl", 8.29, 0.67, 28, 3584, 18944, 4, 128, 152064, False,
                            1280, 3420, 14)
QWEN25_VL_32B = Architecture("qwen2_5_vl", 33.5, 0.68, 64, 5120, 27648, 8, 128, 152064, False,
                             1280, 3420, 14)
QWEN3_VL_8B = Architecture("qwen3_vl", 8.77, 0.58, 36, 4096, 12288, 8, 128, 151936, False,
                           1152, 4304, 16)
QWEN3_VL_32B = Architecture("qwen3_vl", 33.4, 0.59, 64, 5120, 25600, 8, 128, 151936, False,
                            1152, 4304, 16)


@dataclass(frozen=True)
class Preset:
    """A named way to run the inspector (see the module docstring)."""

    name: str
    title: str
    kind: str  # "local" | "adapter" | "remote" | "demo"
    model_id: str | None  # hub id (or None: the user gives a folder / server)
    model_type: str | None  # "qwen2_5_vl" | "qwen3_vl"; None when only known after loading
    dtype: str = "bfloat16"
    quantization: str = "none"  # "none" | "4bit" | "8bit"
    device_map_auto: bool = True
    min_pixels: int | None = None
    max_pixels: int | None = None
    arch: Architecture | None = None  # None: read from the folder (Architecture.from_folder)
    notes: str = ""

    @property
    def params_billion(self) -> float | None:
        return self.arch.params_billion if self.arch else None

    @property
    def vision_params_billion(self) -> float | None:
        return self.arch.vision_params_billion if self.arch else None

    @property
    def text_layers(self) -> int | None:
        return self.arch.text_layers if self.arch else None

    @property
    def text_hidden(self) -> int | None:
        return self.arch.text_hidden if self.arch else None

    @property
    def text_kv_heads(self) -> int | None:
        return self.arch.text_kv_heads if self.arch else None

    @property
    def head_dim(self) -> int | None:
        return self.arch.head_dim if self.arch else None

    @property
    def downloadable(self) -> bool:
        return self.kind == "local" and self.model_id is not None


def _qwen25(name, title, model_id, arch, dtype="bfloat16", quantization="none", notes=""):
    return Preset(name, title, "local", model_id, "qwen2_5_vl", dtype, quantization, True,
                  QWEN25_MIN_PIXELS, QWEN25_MAX_PIXELS, arch, notes)


def _qwen3(name, title, model_id, arch, dtype="bfloat16", quantization="none", notes=""):
    return Preset(name, title, "local", model_id, "qwen3_vl", dtype, quantization, True,
                  QWEN3_MIN_PIXELS, QWEN3_MAX_PIXELS, arch, notes)


_PRESET_LIST: tuple[Preset, ...] = (
    _qwen25("qwen2.5-vl-7b-4bit", "Qwen2.5-VL-7B-Instruct, 4-bit nf4",
            "Qwen/Qwen2.5-VL-7B-Instruct", QWEN25_VL_7B, quantization="4bit",
            notes="Default for one GPU with up to 24 GB (bitsandbytes nf4, double quantization; "
                  "vision tower and output head stay in bf16). Needs the 'quant' extra."),
    _qwen25("qwen2.5-vl-7b-bf16", "Qwen2.5-VL-7B-Instruct, bf16",
            "Qwen/Qwen2.5-VL-7B-Instruct", QWEN25_VL_7B,
            notes="Full precision 7B: a 24 GB GPU is tight, 32 GB and up comfortable."),
    _qwen25("qwen2.5-vl-32b-bf16", "Qwen2.5-VL-32B-Instruct, bf16, all GPUs",
            "Qwen/Qwen2.5-VL-32B-Instruct", QWEN25_VL_32B,
            notes="Spread over every visible GPU with device_map='auto' (e.g. one 80 GB "
                  "A100/H100, or 2 x 48 GB)."),
    _qwen25("qwen2.5-vl-3b-bf16", "Qwen2.5-VL-3B-Instruct, bf16",
            "Qwen/Qwen2.5-VL-3B-Instruct", QWEN25_VL_3B,
            notes="Small GPUs (12 GB) and CPUs; weaker than 7B. Research licence (check it)."),
    _qwen3("qwen3-vl-8b-4bit", "Qwen3-VL-8B-Instruct, 4-bit nf4",
           "Qwen/Qwen3-VL-8B-Instruct", QWEN3_VL_8B, quantization="4bit",
           notes="Qwen3-VL equivalent of the 7B 4-bit default; boxes are 0-1000 relative."),
    _qwen3("qwen3-vl-8b-bf16", "Qwen3-VL-8B-Instruct, bf16",
           "Qwen/Qwen3-VL-8B-Instruct", QWEN3_VL_8B),
    _qwen3("qwen3-vl-32b-bf16", "Qwen3-VL-32B-Instruct, bf16, all GPUs",
           "Qwen/Qwen3-VL-32B-Instruct", QWEN3_VL_32B,
           notes="Spread over every visible GPU with device_map='auto'."),
    Preset("local-folder", "A model folder on this computer", "local", None, None, "auto",
           notes="Any saved Qwen2.5-VL / Qwen3-VL checkpoint (safetensors); give its folder. "
                 "Memory is estimated from its config.json and safetensors headers."),
    Preset("lora-adapter", "A LoRA adapter over its base model", "adapter", None, None, "auto",
           notes="A PEFT adapter folder (e.g. from lte-train); its base model is read from "
                 "adapter_config.json and loaded from the models folder or cache."),
    Preset("remote-server", "A remote server (vLLM, OpenAI-compatible API)", "remote", None,
           None, "auto", device_map_auto=False,
           notes="Nothing is loaded here: the server holds the model. Give its URL; the API key "
                 "comes from the environment or the OS keyring."),
    Preset("demo", "Bundled demo checkpoint (not a detector)", "demo", None, "qwen2_5_vl",
           "auto", device_map_auto=False,
           notes="A tiny model trained on a synthetic task so the whole flow runs on a laptop. "
                 "Its verdicts mean nothing about real images."),
)

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESET_LIST}
DEFAULT_PRESET = "qwen2.5-vl-7b-4bit"


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (case-insensitive); PresetError naming every preset otherwise."""
    preset = PRESETS.get(name.strip().lower()) if isinstance(name, str) else None
    if preset is None:
        raise PresetError(f"unknown model preset {name!r}; presets: {', '.join(PRESETS)}")
    return preset

