"""What the settings mean to core: the close-up policy and the local model to load."""

from __future__ import annotations

from pathlib import Path

from inspector.core.app_settings.schema import AppSettings, looks_like_path
from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.spec import LocalModelSpec
from inspector.core.backends.spec import to_local_spec as spec_for_preset
from inspector.core.closeups import CloseupPolicy


def to_closeup_policy(settings: AppSettings) -> CloseupPolicy:
    """The close-up policy (the other CloseupPolicy fields keep their defaults)."""
    return CloseupPolicy(
        magnification=float(settings.magnification),
        max_pixels=int(settings.closeup_max_pixels),
        max_regions=int(settings.max_regions),
        mode=settings.closeup_mode,
        region_order=settings.region_order,
        seed=int(settings.closeup_seed),
        budget=float(settings.closeup_budget) or None,
    )


def to_generation_settings(settings: AppSettings) -> GenerationSettings:
    """How the window's model generates (the other fields keep their defaults)."""
    return GenerationSettings(prompt_lookup_tokens=int(settings.prompt_lookup))


def to_local_spec(settings: AppSettings) -> LocalModelSpec | None:
    """The local model to load; None when no model_source is configured.

    Built by core (the ``local-folder`` preset: a hub id or a folder, its own precision and image
    bounds) from the settings' model, adapter, quantization and device; folders have ``~``
    expanded. Raises BackendError for a value the spec refuses.
    """
    source = settings.model_source.strip()
    if not source:
        return None
    adapter = settings.adapter.strip()
    return spec_for_preset(
        "local-folder",
        source=_expand(source),
        adapter=_expand(adapter) or None,
        quantization=settings.quantization,
        device=settings.device,
    )


def _expand(source: str) -> str:
    return str(Path(source).expanduser()) if looks_like_path(source) else source
