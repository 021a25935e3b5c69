"""Which model `lte-inspect analyze` uses and how it is opened (local, preset or server)."""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from inspector.core.backends.base import BackendError, GenerationSettings
from inspector.core.backends.open import BackendChoice, ServedModelUnknown, open_backend
from inspector.core.closeups import CloseupPolicy
from inspector.core.demo_model import demo_model_dir


def resolve_model(args) -> str | None:
    """The model to name in messages: --model, the preset's, or the bundled demo checkpoint."""
    if args.model:
        return args.model
    if args.preset:
        from inspector.core.presets import PresetError, get_preset

        try:
            preset = get_preset(args.preset)
        except PresetError:
            return args.preset  # the error is reported when the spec is built
        if preset.kind != "demo":  # a folder or adapter preset without one says what it needs
            return preset.model_id or args.adapter or args.preset
    demo = demo_model_dir()
    return str(demo) if demo is not None else None


def backend_choice(args, model: str) -> BackendChoice | None:
    """What --server / --preset / --model ask for; None after printing why it cannot be."""
    if args.server:
        from inspector.core.backends.remote import RemoteSpec

        return BackendChoice.of_remote(RemoteSpec(
            args.server, model=args.server_model or "", model_type=args.server_model_type,
            min_pixels=args.min_pixels, max_pixels=args.max_pixels,
        ))  # fmt: skip
    from inspector.core.backends.spec import LocalModelSpec, to_local_spec
    from inspector.core.presets import PresetError

    # With a preset, the model is the preset's unless --model names one (the demo preset's is the
    # bundled checkpoint); a folder or adapter preset without --model gets the preset's error.
    demo_preset = bool(args.preset) and args.preset.strip().lower() == "demo"
    fields = dict(
        source=model if not args.preset or demo_preset else args.model,
        adapter=args.adapter,
        dtype=args.dtype,
        quantization=args.quant,
        device=args.device,
        allow_download=args.download,
        reuse_cache=not args.no_cache_reuse,
    )
    fields = {k: v for k, v in fields.items() if v is not None}  # unset: the preset's or default
    try:
        spec = to_local_spec(args.preset, **fields) if args.preset else LocalModelSpec(**fields)
    except (PresetError, BackendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return BackendChoice.of_local(spec)


def load_pipeline(args, model: str, policy: CloseupPolicy):
    """Load the model (or connect to the server); the Pipeline, or None after printing why not."""
    from inspector.core.pipeline import Pipeline, PipelineOptions

    choice = backend_choice(args, model)
    if choice is None:
        return None
    settings = replace(GenerationSettings.with_token_limit(args.max_new_tokens),
                       prompt_lookup_tokens=max(0, args.prompt_lookup))
    if choice.remote is None:
        print(f"Loading model {model} …", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        backend = open_backend(
            choice, settings, on_message=lambda text: print(f"memory: {text}", file=sys.stderr)
        )
    except ServedModelUnknown as exc:
        listed = ", ".join(exc.served) if exc.served else "none could be read"
        print(f"error: pass --server-model NAME (served models: {listed})", file=sys.stderr)
        return None
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    p = backend.provenance
    if choice.remote is not None:
        print(f"Using {p.model_id} at {p.device}", file=sys.stderr)
    else:
        print(
            f"Loaded {p.model_type} on {p.device} ({p.dtype}, quantization {p.quantization}) in "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    if p.is_demo:
        print("NOTE: this is the demo checkpoint, not a detector.", file=sys.stderr)
    return Pipeline(backend, PipelineOptions(policy=policy, examine=not args.no_examine,
                                             forensics=args.forensics))
