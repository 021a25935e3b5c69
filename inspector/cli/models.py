"""`lte-inspect models` and `lte-inspect download`: presets, memory needs, and fetching weights."""

from __future__ import annotations

import argparse
import signal
import sys

from inspector.core.batch_output import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE


def add_model_commands(sub) -> None:
    m = sub.add_parser(
        "models",
        help="list the model presets and the memory each needs",
        description="List the model presets: what each loads, the memory one analysis needs "
        "(weights, vision tower, KV cache for the image and close-ups), whether its weights are "
        "already downloaded, and how that compares with the memory free on this machine.",
    )
    m.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    d = sub.add_parser(
        "download",
        help="download a preset's or a hub model's weights (safetensors only)",
        description="Download a model from the Hugging Face hub into the models folder "
        "($LTE_MODELS_DIR, or the platform's data folder). Only safetensors weights and "
        "config/tokenizer files are fetched; the disk space is checked first; Ctrl-C stops and "
        "running the command again resumes where it stopped.",
    )
    d.add_argument("model", metavar="PRESET_OR_ID", help="a preset name (see `models`) or hub id")
    d.add_argument("--revision", help="branch, tag or commit (default: main)")
    d.add_argument("--dest", help="models folder to download into")


def cmd_models(args: argparse.Namespace) -> int:
    from inspector.core.download import find_downloaded, models_dir
    from inspector.core.memory import (
        available_memory,
        check_fits,
        cpu_caveat,
        estimate_for_preset,
    )
    from inspector.core.presets import DEFAULT_PRESET, PRESETS

    try:
        available = available_memory(args.device)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    device = "cpu" if available.kind == "cpu" else "cuda"
    print(f"models folder: {models_dir()}")
    print(f"free memory: {', '.join(f'{f:.1f}' for f in available.free_gb)} GiB "
          f"({'RAM' if device == 'cpu' else 'GPU'})\n")
    for preset in PRESETS.values():
        default = "  (default)" if preset.name == DEFAULT_PRESET else ""
        print(f"{preset.name}{default}\n  {preset.title}")
        if preset.model_id:
            have = preset.kind != "remote" and find_downloaded(preset.model_id) is not None
            print(f"  model: {preset.model_id} ({'downloaded' if have else 'not downloaded'})")
        if preset.arch is not None:
            estimate = estimate_for_preset(preset, device=device)
            verdict = check_fits(estimate, available)
            caveat = cpu_caveat(estimate) if device == "cpu" and verdict.fits else ""
            where = "fits in RAM here, but " + caveat[0].lower() + caveat[1:] if caveat else (
                "fits here" if verdict.fits else "does NOT fit here")
            print(f"  needs about {estimate.total_gb:.1f} GiB ({estimate.breakdown}); {where}")
        if preset.notes:
            print(f"  {preset.notes}")
        print()
    return EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    from inspector.core.download import DownloadCancelled, DownloadError, download_model

    cancelled = False

    def on_sigint(signum, frame):
        nonlocal cancelled
        cancelled = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        path = download_model(
            args.model,
            revision=args.revision,
            dest=args.dest,
            on_progress=lambda p: print("\r" + p.describe() + " " * 8, end="", file=sys.stderr,
                                        flush=True),
            is_cancelled=lambda: cancelled,
        )
    except DownloadCancelled:
        print("\nstopped; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DownloadError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"\ndownloaded to {path}", file=sys.stderr)
    print(path)
    return EXIT_OK
