"""The settings' keys, their defaults and comments, and what makes a value acceptable.

To add a setting: a field on :class:`AppSettings` (its default gives its type), a line in
``COMMENTS`` (written above the key in the file), a check in :func:`check_value` if its range is
limited, and a control in ``inspector.gui.settings.SettingsDialog``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from inspector.core.backends.spec import DEVICES, QUANTIZATIONS
from inspector.core.closeups import MIN_OUTPUT_SIDE
from inspector.core.region_choice import CLOSEUP_MODES, REGION_ORDERS

MIN_CLOSEUP_PIXELS = MIN_OUTPUT_SIDE * MIN_OUTPUT_SIDE
MAX_BATCH_SIZE = 64


@dataclass
class AppSettings:
    model_source: str = ""  # hub id ("Qwen/Qwen2.5-VL-3B-Instruct") or a local folder
    adapter: str = ""  # PEFT adapter (hub id or folder) over model_source; "" for none
    device: str = "auto"
    quantization: str = "none"
    max_regions: int = 4
    closeup_max_pixels: int = 512 * 512
    magnification: float = 2.0
    closeup_mode: str = "located"  # the LTE paper's ablations: located | random | none
    region_order: str = "answer"  # which regions get a close-up: answer | largest | confidence
    closeup_seed: int = 0  # seed of random close-ups
    closeup_budget: float = 0.0  # close-up pixels as a fraction of the global view; 0: none
    batch_size: int = 0  # queued images analysed together by a local model; 0: automatic
    prompt_lookup: int = 0  # Query 2 drafts up to this many tokens by prompt lookup; 0: off
    animation: bool = True
    examiner: str = ""
    server_url: str = ""  # OpenAI-compatible server; "" to use the local model
    server_model: str = ""
    forensics: bool = True  # run the forensic analyses (after the model, or alone without one)


DEFAULTS = AppSettings()

COMMENTS: dict[str, str] = {
    "model_source": "Model to load: a Hugging Face hub id or a local folder. Empty: none.",
    "adapter": "PEFT adapter (hub id or folder) applied over model_source. Empty: none.",
    "device": f"Where the local model runs: {', '.join(DEVICES)}.",
    "quantization": f"Weight quantization of the local model: {', '.join(QUANTIZATIONS)}.",
    "max_regions": "Most regions examined close up in Query 2 (at least 1).",
    "closeup_max_pixels": f"Pixel budget of one close-up (at least {MIN_CLOSEUP_PIXELS}).",
    "magnification": "Close-ups are seen at least this many times the global view's density.",
    "closeup_mode": f"What Query 2 examines: {', '.join(CLOSEUP_MODES)} (random and none are "
    "the LTE paper's ablations, for research).",
    "region_order": f"Which regions get a close-up first: {', '.join(REGION_ORDERS)}.",
    "closeup_seed": "Seed of random close-ups (with each image's SHA-256).",
    "closeup_budget": "All close-ups of an image together: at most this fraction of the global "
    "view's vision tokens, never below native resolution. 0: no budget.",
    "batch_size": f"Queued images a local model analyses together (1 to {MAX_BATCH_SIZE}); "
    "0: automatic (1 on a CPU, from free memory on a GPU).",
    "prompt_lookup": "Query 2 drafts up to this many tokens from the conversation so far and "
    "keeps what the model confirms: the same answer, faster when Query 2 restates Query 1 "
    "(local model, greedy). 0: off.",
    "animation": "Animate the analysis (true/false).",
    "examiner": "Examiner's name, prefilled in the examiner notes.",
    "server_url": "OpenAI-compatible server (http:// or https://). Empty: use the local model.",
    "server_model": "Model name to ask the server for.",
    "forensics": "Run the forensic analyses (after the model, or alone without one) (true/false).",
}


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[kind]


def coerce(name: str, value: Any) -> tuple[Any, str | None]:
    """The value as the field's type, or an error (the type must already match; no parsing)."""
    kind = type(getattr(DEFAULTS, name))
    ok = (
        isinstance(value, bool) if kind is bool
        else isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
        else isinstance(value, int) and not isinstance(value, bool) if kind is int
        else isinstance(value, kind)
    )  # fmt: skip
    if not ok:
        return None, f"must be {_type_name(kind)}"
    return (float(value) if kind is float else value), None


def check_value(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for key `name` on its own; None when it is."""
    if name == "device" and value not in DEVICES:
        return f"must be one of {', '.join(DEVICES)}"
    if name == "quantization" and value not in QUANTIZATIONS:
        return f"must be one of {', '.join(QUANTIZATIONS)}"
    if name == "max_regions" and value < 1:
        return "must be at least 1"
    if name == "closeup_max_pixels" and value < MIN_CLOSEUP_PIXELS:
        return f"must be at least {MIN_CLOSEUP_PIXELS} ({MIN_OUTPUT_SIDE}×{MIN_OUTPUT_SIDE})"
    if name == "magnification" and (not math.isfinite(value) or value <= 0):
        return "must be a finite number above 0"
    if name == "closeup_mode" and value not in CLOSEUP_MODES:
        return f"must be one of {', '.join(CLOSEUP_MODES)}"
    if name == "region_order" and value not in REGION_ORDERS:
        return f"must be one of {', '.join(REGION_ORDERS)}"
    if name == "closeup_budget" and (not math.isfinite(value) or value < 0):
        return "must be a finite number, 0 (no budget) or above"
    if name == "prompt_lookup" and not 0 <= value <= 64:
        return "must be 0 (off) to 64"
    if name == "batch_size" and not 0 <= value <= MAX_BATCH_SIZE:
        return f"must be 0 (automatic) to {MAX_BATCH_SIZE}"
    if name == "server_url" and value and not re.match(r"^https?://[^\s/]+", value):
        return "must start with http:// or https:// and name a host (or be empty)"
    if name in ("model_source", "adapter", "examiner", "server_model") and value != value.strip():
        return "must not start or end with spaces"
    return None


def looks_like_path(text: str) -> bool:
    """Whether a model or adapter source names a folder rather than a hub id."""
    return text.startswith(("/", "~", ".", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", text))


def check_consistency(s: AppSettings) -> list[str]:
    """Problems between keys, or with the machine (reported; values are kept)."""
    problems = []
    if s.adapter and not s.model_source:
        problems.append(
            f"adapter = {s.adapter!r}: an adapter needs its base model in model_source"
        )
    for name in ("model_source", "adapter"):
        value = getattr(s, name)
        if value and looks_like_path(value) and not Path(value).expanduser().is_dir():
            problems.append(f"{name} = {value!r}: no such folder")
    if s.server_model and not s.server_url:
        problems.append(f"server_model = {s.server_model!r}: set server_url as well")
    return problems


def value_problems(settings: AppSettings) -> list[str]:
    """Every key whose value is wrong on its own (type or range), with the value."""
    problems = []
    for f in fields(AppSettings):
        value = getattr(settings, f.name)
        _, error = coerce(f.name, value)
        error = error or check_value(f.name, value)
        if error:
            problems.append(f"{f.name} = {value!r}: {error}")
    return problems


def validate(settings: AppSettings) -> list[str]:
    """Every problem with `settings`, each naming the key and the offending value ([] if none).

    Checks between keys (and for missing folders) run once every key is valid on its own.
    """
    return value_problems(settings) or check_consistency(settings)
