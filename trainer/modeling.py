"""Loading a Qwen-VL model for training: precision, 4-bit QLoRA, LoRA adapters, frozen parts.

Shared by SFT and GRPO so both treat the model the same way:

* ``load_for_training``: processor (padding on the left, as TRL's generation wants) and model from
  a folder; a PEFT adapter folder is loaded over its base, trainable, so GRPO can continue the
  LoRA that SFT wrote. ``quantization="4bit"`` loads the base in nf4 for QLoRA.
* ``apply_lora`` / ``lora_config``: LoRA on the language model's linear layers, and on the vision
  blocks when the vision tower is trained; a trainable projector (merger) is saved in full with the
  adapter (``modules_to_save``).
* ``freeze``: the vision tower and the projector are trainable or frozen independently.
* ``precision_flags``: bf16 and gradient checkpointing on CUDA, plain fp32 on a CPU (bf16
  autocast and checkpointing only slow a CPU down).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.rows import base_model_folder

__all__ = [
    "METHODS",
    "TrainingSettings",
    "apply_lora",
    "prepare_model",
    "freeze",
    "load_for_training",
    "lora_config",
    "precision_flags",
]

METHODS = ("lora", "full")
_LM_LINEAR = (
    r"model\.language_model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)"
)
_VISION_LINEAR = r"model\.visual\.blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(gate|up|down)_proj)"


@dataclass
class TrainingSettings:
    """What SFT and GRPO share: data, model, method, LoRA, frozen parts, run bookkeeping.

    ``SFTSettings`` and ``GRPOSettings`` extend it (and set their own defaults where they differ:
    vision tower, learning rate, logging and checkpoint intervals).
    """

    model: Path  # model folder to start from (or an adapter folder, loaded over its base)
    train: Path  # records JSONL
    output_dir: Path
    method: str = "lora"  # "lora" | "full"
    quantization: str = "none"  # "none" | "4bit" (QLoRA)
    train_vision: bool = True
    train_projector: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    learning_rate: float = 2e-5
    grad_accum: int = 1
    seed: int = 0
    instruction_variants: bool = True
    flip_rate: float = 0.25  # share of Query-2 contexts with a wrong first impression (rows.py)
    # Query 1's boxes snapped to this pixel grid, in reading order (0: exact, record order;
    # conversations.answer_boxes)
    box_grid: int = 0
    # a model's own Query-1 answers (trainer/impressions.py): the Query-2 rows of the records
    # they cover are built on them (None: ground-truth contexts only)
    impressions: Path | None = None
    max_regions: int = 4
    logging_steps: int = 10
    save_steps: int = 200
    resume: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # more SFTConfig / GRPOConfig arguments

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.quantization == "4bit" and self.method != "lora":
            raise ValueError("4-bit training is QLoRA: it needs method = 'lora'")
        for name in ("grad_accum", "logging_steps", "save_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.box_grid < 0:
            raise ValueError(f"box_grid must be 0 (exact boxes) or a grid in pixels, got "
                             f"{self.box_grid}")
        if not Path(self.train).is_file():
            raise ValueError(f"training records not found: {self.train}")
        if self.impressions is not None and not Path(self.impressions).is_file():
            raise ValueError(f"impressions file not found: {self.impressions} (make it with "
                             "lte-train impressions)")


def model_answers(settings: TrainingSettings) -> dict[str, str] | None:
    """The settings' impressions (sha256 → a model's Query-1 answer), or None without a file."""
    if settings.impressions is None:
        return None
    from trainer.impressions import read_impressions

    return read_impressions(settings.impressions)


def _is_projector(name: str) -> bool:
    return ".visual." in f".{name}" and "merger" in name


def _is_vision(name: str) -> bool:
    return ".visual." in f".{name}" and not _is_projector(name)


def precision_flags() -> dict[str, Any]:
    """TrainingArguments flags for this machine: bf16 + checkpointing on CUDA, fp32 on a CPU."""
    import torch

    if torch.cuda.is_available():
        return {"bf16": torch.cuda.is_bf16_supported(), "activation_checkpointing": True}
    return {"bf16": False, "fp16": False, "activation_checkpointing": False, "use_cpu": True}


def load_for_training(model_dir: str | Path, quantization: str = "none", trainable: bool = True):
    """``(model, processor)`` for training from a model folder or a PEFT adapter folder.

    Safetensors only, never remote code, never a download. With ``quantization="4bit"`` the base
    is loaded in nf4 (vision tower kept in full precision) and prepared for k-bit training.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, BitsAndBytesConfig

    folder = Path(model_dir)
    base = base_model_folder(folder)
    is_adapter = base != folder
    if base.is_dir():
        # PEFT records the path the base was loaded from as the adapter's base_model_name_or_path:
        # make it absolute, so the adapter loads from any working directory (app, GRPO, eval).
        base = base.resolve()
    processor = AutoProcessor.from_pretrained(base, local_files_only=True)
    processor.tokenizer.padding_side = "left"
    kwargs: dict[str, Any] = {"use_safetensors": True, "local_files_only": True}
    if quantization == "4bit":
        if not torch.cuda.is_available():
            print("note: 4-bit QLoRA on a CPU works but is slow; use a GPU for real runs")
        compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
            llm_int8_skip_modules=["visual", "lm_head"],
        )
        kwargs["dtype"] = compute
    elif quantization == "none":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        kwargs["dtype"] = torch.bfloat16 if cuda_bf16 else torch.float32
    else:
        raise ValueError(
            f"quantization must be 'none' or '4bit' for training, got {quantization!r}"
        )
    model = AutoModelForImageTextToText.from_pretrained(base, **kwargs)
    if quantization == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if is_adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, folder, is_trainable=trainable)
    return model, processor


def lora_config(
    r: int = 16,
    alpha: int = 32,
    dropout: float = 0.05,
    train_vision: bool = False,
    train_projector: bool = True,
):
    """A PEFT LoRA config for Qwen-VL: language-model linears (+ vision blocks if trained)."""
    from peft import LoraConfig

    targets = _LM_LINEAR if not train_vision else f"({_LM_LINEAR})|({_VISION_LINEAR})"
    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        modules_to_save=["merger"] if train_projector else None,
        task_type="CAUSAL_LM",
    )


def apply_lora(model, config):
    """Wrap ``model`` with a fresh LoRA adapter (a model that already is a PeftModel is kept)."""
    from peft import PeftModel, get_peft_model

    if isinstance(model, PeftModel):
        return model
    return get_peft_model(model, config)


def freeze(model, train_vision: bool, train_projector: bool, method: str) -> dict[str, int]:
    """Set ``requires_grad`` on the vision tower and projector; returns trainable counts by part.

    With ``method="full"`` everything else is trainable. With LoRA, PEFT has already frozen the
    base; only the vision/projector choices are applied on top (LoRA weights stay trainable).
    """
    counts = {"language": 0, "vision": 0, "projector": 0}
    for name, param in model.named_parameters():
        if _is_projector(name):
            if method == "full" or "modules_to_save" in name:
                param.requires_grad_(train_projector)
            part = "projector"
        elif _is_vision(name):
            if method == "full" or "lora_" in name:
                param.requires_grad_(train_vision)
            part = "vision"
        else:
            if method == "full":
                param.requires_grad_(True)
            part = "language"
        if param.requires_grad:
            counts[part] += param.numel()
    return counts


def prepare_model(
    model_dir: str | Path, settings: TrainingSettings
) -> tuple[Any, Any, dict[str, int]]:
    """``(model, processor, trainable counts)`` ready to train, as SFT and GRPO both need it."""
    model, processor = load_for_training(model_dir, settings.quantization)
    if settings.method == "lora":
        model = apply_lora(
            model,
            lora_config(settings.lora_r, settings.lora_alpha, settings.lora_dropout,
                        settings.train_vision, settings.train_projector),
        )
    trainable = freeze(model, settings.train_vision, settings.train_projector, settings.method)
    return model, processor, trainable


def write_training_info(out_dir: Path, info: dict[str, Any]) -> None:
    """``training_info.json``: what produced this folder (settings, data, figures), and the
    memory allocator its process ran with (the seconds depend on it)."""
    from inspector.core.atomic import atomic_write_bytes
    from trainer.allocator import process_allocator

    info = {**info, "allocator": process_allocator()}
    text = json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write_bytes(out_dir / "training_info.json", text.encode("utf-8"))
