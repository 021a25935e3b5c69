"""`lte-train`: offline data import, fine-tuning and evaluation of LTE Inspector models.

    lte-train init-tiny OUT_DIR [--seed N] [--family qwen2_5_vl|qwen3_vl] [--size tiny|demo]
    lte-train import {trace,fakexplained,synthscars} INPUT -o OUT.jsonl
    lte-train split IN.jsonl --out-dir DIR [--seed N]
    lte-train synth OUT_DIR --count N --seed S              (trainer/synth_cli.py)
    lte-train warmup MODEL_DIR TRAIN.jsonl -o OUT_DIR        (trainer/warmup.py)
    lte-train sft|grpo [--config FILE.toml] [flags]          (trainer/cli_train.py)
    lte-train eval MODEL_DIR TEST.jsonl -o OUT.json          (trainer/evaluate.py)
    lte-train demo OUT_DIR                                   (trainer/demo.py)

Each subcommand's function takes the parsed arguments and returns an exit code; modules with
their own subcommand add it with ``register(subparsers)``.
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
    t.add_argument("--size", choices=["tiny", "demo"], default="tiny",
                   help="tiny: the test model (about 1.4M parameters, images up to 168x168, "
                   "default); demo: the demo checkpoint's architecture (about 3.6M, images up "
                   "to 224x224), for training from scratch")
    t.set_defaults(func=_cmd_init_tiny)

    imp = sub.add_parser(
        "import",
        help="convert a public forensic dataset into LTE training records (JSONL)",
        description="Convert annotations into LTE training records: one JSON line per image "
        "with its label (real / ai-generated), explanation and regions (boxes in original "
        "pixels, optional caption and tag). Image paths in INPUT are relative to INPUT's "
        "folder; every image is read (never modified) for its SHA-256 and size. Bad entries "
        "are skipped and listed; the rest is written. Image paths in OUT are written relative "
        "to OUT's folder. Accepted keys: see trainer/importers.py.",
    )
    imp.add_argument("format", choices=["trace", "fakexplained", "synthscars"], metavar="FORMAT",
                     help="trace: TRACE-style (image, label, explanation, boxes) JSON/JSONL; "
                     "fakexplained: FakeXplained / mllm-defake JSONL (messages, images, "
                     "objects.ref/bbox); synthscars: SynthScars JSON with polygons (each "
                     "polygon becomes its bounding box)")
    imp.add_argument("input", type=Path, metavar="INPUT", help="annotation file to import")
    imp.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.jsonl",
                     help="records file to write (replaced atomically)")
    imp.add_argument("--bbox-space", choices=["absolute", "relative1000", "relative1", "auto"],
                     default="absolute",
                     help="coordinates of the boxes in INPUT: absolute = original pixels "
                     "(default), relative1000 = Qwen's 0-1000 scale, relative1 = 0-1, auto = "
                     "per row from objects.bbox_type or the numbers, skipping rows where it is "
                     "ambiguous (fakexplained only)")
    imp.add_argument("--source", metavar="NAME",
                     help="dataset/generator name stored in each record when the entry has "
                     "none (default: the format name)")
    imp.set_defaults(func=_cmd_import)

    sp = sub.add_parser(
        "split",
        help="split records into train / val / test files",
        description="Split a records file into DIR/train.jsonl, DIR/val.jsonl and "
        "DIR/test.jsonl. Stratified by source and label so each split keeps the dataset's mix; "
        "an image (by SHA-256, so duplicates too) never appears in two splits. The same input "
        "and seed always give the same split.",
    )
    sp.add_argument("input", type=Path, metavar="IN.jsonl", help="records file to split")
    sp.add_argument("--out-dir", type=Path, required=True, metavar="DIR",
                    help="folder for train.jsonl, val.jsonl, test.jsonl (created if missing)")
    sp.add_argument("--seed", type=int, default=0, metavar="N",
                    help="shuffling seed (default 0)")
    sp.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                    metavar=("TRAIN", "VAL", "TEST"),
                    help="shares of train, val and test; must add up to 1 (default 0.8 0.1 0.1)")
    sp.set_defaults(func=_cmd_split)

    from trainer import cli_train, demo, evaluate, impressions, locate_warmup, synth_cli, warmup

    synth_cli.register(sub)
    warmup.register(sub)
    locate_warmup.register(sub)
    cli_train.register(sub)
    evaluate.register(sub)
    impressions.register(sub)
    demo.register(sub)
    return parser


def _cmd_import(args: argparse.Namespace) -> int:
    from trainer import importers
    from trainer.records import rebase_images, write_records

    source = args.source or args.format
    print(f"Importing {args.format} annotations from {args.input} ...")
    if args.format == "trace":
        if args.bbox_space == "auto":
            raise ValueError("--bbox-space auto is only for fakexplained")
        records, problems = importers.import_trace(
            args.input, source=source, bbox_space=args.bbox_space
        )
    elif args.format == "fakexplained":
        records, problems = importers.import_fakexplained(
            args.input, bbox_space=args.bbox_space, source=source
        )
    else:
        if args.bbox_space != "absolute":
            raise ValueError("SynthScars polygons are in pixels; --bbox-space does not apply")
        records, problems = importers.import_synthscars(args.input, source=source)
    for problem in problems:
        print(f"  problem: {problem}", file=sys.stderr)
    if not records:
        print(f"No records imported ({len(problems)} problems); nothing written.", file=sys.stderr)
        return EXIT_FAILED
    out = args.output.resolve()
    write_records(out, rebase_images(records, None, out.parent))
    labels = {label: sum(r.label == label for r in records) for label in ("real", "ai-generated")}
    regions = sum(len(r.regions) for r in records)
    print(
        f"Imported {len(records)} records ({labels['real']} real, {labels['ai-generated']} "
        f"ai-generated, {regions} regions) to {out}"
    )
    print(f"  {len(problems)} problems" + (" (listed above)" if problems else ""))
    return EXIT_OK


def _cmd_split(args: argparse.Namespace) -> int:
    from trainer.records import read_records, rebase_images, write_records
    from trainer.split import SPLIT_NAMES, split_records

    records = read_records(args.input)
    splits = split_records(records, fractions=args.fractions, seed=args.seed)
    out_dir = args.out_dir.resolve()
    print(f"Splitting {len(records)} records from {args.input} (seed {args.seed})")
    for name, part in zip(SPLIT_NAMES, splits, strict=True):
        path = out_dir / f"{name}.jsonl"
        write_records(path, rebase_images(part, args.input.resolve().parent, out_dir))
        real = sum(r.label == "real" for r in part)
        sources = len({r.source for r in part})
        print(
            f"  {name}: {len(part)} records ({real} real, {len(part) - real} ai-generated, "
            f"{sources} sources) -> {path}"
        )
    return EXIT_OK


def _cmd_init_tiny(args: argparse.Namespace) -> int:
    from trainer.tiny import build_tiny_model, describe

    out = build_tiny_model(args.out_dir, seed=args.seed, family=args.family, size=args.size)
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
