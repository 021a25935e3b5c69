"""`lte-train`: offline data import, fine-tuning and evaluation of LTE Inspector models.

    lte-train init-tiny OUT_DIR [--seed N]

More subcommands (import, split, sft, grpo, eval, synth, demo) are added to the same parser.
Each subcommand is a ``_cmd_*`` function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lte-train",
        description="Prepare data for, fine-tune (SFT, GRPO) and evaluate the vision-language "
        "models behind LTE Inspector. Everything runs offline on local files.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "init-tiny",
        help="write a tiny random Qwen2.5-VL model for tests and trials (not a detector)",
        description="Write a tiny Qwen2.5-VL model with RANDOM weights (about 1.4M parameters) "
        "and its processor to OUT_DIR, built entirely offline: byte-level BPE tokenizer, Qwen "
        "chat template, image and video processors with small resize bounds, safetensors "
        "weights. It loads like any Qwen2.5-VL checkpoint (full precision or bitsandbytes "
        "4-bit, also on a CPU), so it exercises the app and the trainer without a download or "
        "a GPU. Its answers are noise: it is not a detector.",
    )
    t.add_argument("out_dir", type=Path, metavar="OUT_DIR",
                   help="folder to write (created if missing; existing model files are replaced)")
    t.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the random weights; the same seed gives the same model "
                   "(default 0)")
    t.add_argument("--family", choices=["qwen2_5_vl", "qwen3_vl"], default="qwen2_5_vl",
                   help="architecture: Qwen2.5-VL (boxes in resized-image pixels, default) or "
                   "Qwen3-VL (boxes 0-1000)")
    t.set_defaults(func=_cmd_init_tiny)
    return parser


def _cmd_init_tiny(args: argparse.Namespace) -> int:
    from trainer.tiny import build_tiny_model, describe

    out = build_tiny_model(args.out_dir, seed=args.seed, family=args.family)
    info = describe(out)
    print(f"Wrote a tiny random {info['model_type']} model (seed {args.seed}) to {out.resolve()}")
    print(f"  parameters: {info['parameters']:,}")
    print(f"  images resized to {info['min_pixels']}..{info['max_pixels']} pixels")
    print("  random weights: for tests and trials only, not a detector")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return instead of exiting
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:
        print(f"lte-train {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
