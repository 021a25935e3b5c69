"""What to load for the local backend: a small, torch-free description of a model.

Kept apart from :mod:`inspector.core.backends.local` (which loads it) so that settings, the CLI
and the trainer can build and check a spec without importing the loader. Presets are data that the
backends read (:func:`to_local_spec` here, the memory check in ``local``); nothing in
:mod:`inspector.core.presets` imports a backend, so there is no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspector.core.backends.base import BackendError
from inspector.core.presets import Preset, PresetError, get_preset

__all__ = ["DEVICES", "DTYPES", "QUANTIZATIONS", "LocalModelSpec", "to_local_spec"]

DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANTIZATIONS = ("none", "4bit", "8bit")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class LocalModelSpec:
    """What to load. `source` is a hub id or a folder; `adapter` a PEFT adapter over it."""

    source: str
    adapter: str | None = None
    dtype: str = "auto"
    quantization: str = "none"
    device: str = "auto"
    allow_download: bool = False
    min_pixels: int | None = None  # None: keep the processor's saved bounds
    max_pixels: int | None = None
    reuse_cache: bool = True
    hash_weights: bool = True

    def validate(self) -> None:
        for name, value, allowed in (
            ("dtype", self.dtype, DTYPES),
            ("quantization", self.quantization, QUANTIZATIONS),
            ("device", self.device, DEVICES),
        ):
            if value not in allowed:
                raise BackendError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if (self.min_pixels is None) != (self.max_pixels is None):
            raise BackendError("set both min_pixels and max_pixels, or neither")
        if self.min_pixels is not None and not 0 < self.min_pixels <= self.max_pixels:
            raise BackendError("min_pixels must be positive and not above max_pixels")


def to_local_spec(preset: Preset | str, **overrides: Any) -> LocalModelSpec:
    """The LocalModelSpec that loads ``preset``; keyword arguments override any spec field.

    ``local-folder`` needs ``source=FOLDER``; ``lora-adapter`` needs ``adapter=FOLDER`` (``source``
    defaults to the adapter folder, whose adapter_config.json names its base); ``demo`` needs
    ``source`` (:func:`inspector.core.demo_model.demo_model_dir` knows where the bundled
    checkpoint lives). ``remote-server`` has no local spec. Pixel bounds are pinned to the
    preset's unless overridden. Raises PresetError (or BackendError for a bad field value).
    """
    if isinstance(preset, str):
        preset = get_preset(preset)
    if preset.kind == "remote":
        raise PresetError(
            f"preset {preset.name} runs on a remote server; it has no local model to load"
        )
    fields: dict[str, Any] = {
        "source": preset.model_id,
        "dtype": preset.dtype,
        "quantization": preset.quantization,
        "min_pixels": preset.min_pixels,
        "max_pixels": preset.max_pixels,
    }
    unknown = set(overrides) - set(LocalModelSpec.__dataclass_fields__)
    if unknown:
        raise PresetError(f"not LocalModelSpec fields: {', '.join(sorted(unknown))}")
    overrides = dict(overrides)
    if preset.kind == "adapter":
        adapter = overrides.pop("adapter", None)
        if not adapter:
            raise PresetError("preset lora-adapter needs adapter=FOLDER (a PEFT adapter)")
        base = overrides.pop("source", None)
        # Without an explicit base, the adapter folder is the source: the backend reads its base
        # from adapter_config.json.
        fields["source"], fields["adapter"] = (base, adapter) if base else (adapter, None)
    fields.update(overrides)
    if not fields.get("source"):
        raise PresetError(f"preset {preset.name} needs source=FOLDER (a model folder)")
    spec = LocalModelSpec(**fields)
    spec.validate()
    return spec
