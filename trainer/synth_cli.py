"""``lte-train synth``: the command line of the synthetic DEMO dataset (:mod:`trainer.synth`)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from inspector.core.protocol import AI_GENERATED, REAL
from trainer.synth import generate
from trainer.synth_artifacts import KINDS, MAX_SIZE, MIN_SIZE, box_side_range


def _whole_number(minimum: int, bound: str):
    """An argparse type: an integer >= ``minimum`` (``bound`` says so in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``synth`` subcommand to lte-train's subparsers; returns its parser."""
    lo, hi = box_side_range(224)
    p = subparsers.add_parser(
        "synth",
        help="make a small synthetic DEMO dataset (planted artifacts in bundled photos)",
        description="Make a small synthetic forensic DEMO dataset for trying the trainer on a "
        "CPU: OUT_DIR/images/NNNNN.png and OUT_DIR/records.jsonl (one training record per "
        "image). Each image is a random crop of a real photograph that scikit-image ships "
        "(astronaut, coffee, coins, moon, brick, ...; nothing is downloaded), resized to SIZE x "
        "SIZE. 'real' images are the untouched crop; their boxes mark natural fine detail. "
        "'ai-generated' images get 1-2 planted generator-like artifacts, each inside its box: "
        "an upsampling checkerboard grid, a cloned patch, smeared gibberish text, or a "
        "repeating motif with shifted and missing tiles. Records carry a label, a templated "
        "explanation, the boxes (with caption and tag) and a source (synth-photo, "
        "synth-checkerboard, synth-clone, synth-smeared_text, synth-broken_repetition). This "
        "is NOT real forensic data: a model trained on it only learns these planted "
        "artifacts. The same arguments always give byte-identical files.",
        epilog=f"Boxes have sides of 20-40%% of SIZE ({lo}-{hi} px at 224). Example: lte-train "
        "synth data/synth --count 400 --seed 0 && lte-train split data/synth/records.jsonl "
        "--out-dir data/synth/splits",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR",
                   help="folder to write (created if missing; files of the same names are "
                   "replaced)")
    p.add_argument("--count", type=_whole_number(1, "at least 1"), required=True, metavar="N",
                   help="number of images to make")
    p.add_argument("--seed", type=_whole_number(0, "0 or more"), required=True, metavar="S",
                   help="random seed; the same seed and options give the same dataset")
    p.add_argument("--size", type=int, default=224, metavar="PX",
                   help=f"side of the square images in pixels, {MIN_SIZE}-{MAX_SIZE} "
                   "(default 224)")
    p.add_argument("--fine-artifacts", action="store_true",
                   help="draw the artifacts at the feature size they have at 224 px whatever "
                   "SIZE (a 2-4 px checkerboard, small text): with SIZE above a model's view, "
                   "the finest are lost in the whole image and visible in close-ups, the "
                   "setting Locate-Then-Examine is for (default: they grow with SIZE)")
    p.add_argument("--ai-fraction", type=float, default=0.5, metavar="F",
                   help="share of ai-generated images, 0-1; exactly round(N*F) of them "
                   "(default 0.5)")
    p.add_argument("--kinds", nargs="+", choices=KINDS, metavar="KIND",
                   help="every ai-generated image carries these artifacts (one or two of "
                   f"{', '.join(KINDS)}) instead of 1-2 drawn at random: to ask whether a model "
                   "can see one kind at all (the real images are the same as without it)")
    p.set_defaults(func=_cmd_synth)
    return p


def _cmd_synth(args: argparse.Namespace) -> int:
    started = time.monotonic()
    last_decile = [0]

    def progress(done: int, total: int) -> None:
        decile = done * 10 // total
        if decile != last_decile[0]:
            last_decile[0] = decile
            print(f"[synth] {done}/{total} images ({done * 100 // total}%)", file=sys.stderr,
                  flush=True)

    try:
        path = generate(args.out_dir, args.count, args.seed, size=args.size,
                        ai_fraction=args.ai_fraction, on_progress=progress,
                        fine=args.fine_artifacts, kinds=args.kinds)
    except ValueError as exc:
        print(f"lte-train synth: error: {exc}", file=sys.stderr)
        return 1
    from trainer.records import read_records

    records = read_records(path)
    labels = Counter(r.label for r in records)
    sources = Counter((r.source, r.label) for r in records)
    regions = sum(len(r.regions) for r in records)
    path = path.resolve()
    print(
        f"Wrote {len(records)} synthetic DEMO samples ({labels[REAL]} real, "
        f"{labels[AI_GENERATED]} ai-generated, {regions} regions; {args.size}x{args.size} PNG"
        f"{', fine artifacts' if args.fine_artifacts else ''}, seed {args.seed}) in "
        f"{time.monotonic() - started:.1f} s"
    )
    print(f"  records: {path}")
    print(f"  images:  {path.parent / 'images'}")
    for (source, label), n in sorted(sources.items()):
        print(f"  {source:<26} {label:<13} {n:>6}")
    print("  planted artifacts in bundled photos: a demo task, not real forensic data")
    return 0
