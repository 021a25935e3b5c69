"""How long the trainer takes to turn SFT rows into a training set, and how large that set is.

Every trainer step (warm-up, locate, SFT, GRPO) hands its rows to ``trainer.rows.to_dataset``.
``datasets`` stores PIL images as PNG at zlib level 6; ``to_dataset`` stores decoded pixels as
PNG at level 1, and a whole image whose file is a plain PNG as that file's path
(``trainer.record_images``: decoded when a step batches it). This script times the three on the
SFT rows (both queries, close-ups included) of freshly made synthetic records and checks that
the pixels come back identical.

    python benchmarks/training_rows.py --count 200 --out docs/training_rows.md
    python benchmarks/training_rows.py --count 200 --size 448 --fine   # the fine task
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from inspector.core.closeups import CloseupPolicy  # noqa: E402
from trainer.record_images import ImageFile, pixels  # noqa: E402
from trainer.records import read_records  # noqa: E402
from trainer.rows import model_space, sft_rows, to_dataset  # noqa: E402
from trainer.synth import generate  # noqa: E402
from trainer.tiny import build_tiny_model  # noqa: E402


def _timed(build) -> tuple[float, object]:
    start = time.perf_counter()
    result = build()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="synthetic records (default 200)")
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--size", type=int, default=224, help="image side (default 224)")
    parser.add_argument("--fine", action="store_true", help="lte-train synth --fine-artifacts")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)

    from datasets import Dataset

    with tempfile.TemporaryDirectory() as tmp:
        records_path = generate(Path(tmp) / "synth", args.count, args.seed, size=args.size,
                                fine=args.fine)
        model = Path(tmp) / "model"
        build_tiny_model(model, seed=0, size="demo")
        rows = sft_rows(read_records(records_path), model_space(model), CloseupPolicy(),
                        dataset_path=records_path)
        files = sum(isinstance(i, ImageFile) for row in rows for i in row["images"])
        decoded_s, decoded = _timed(lambda: [
            {**row, "images": [pixels(i) for i in row["images"]]} for row in rows])
        images = sum(len(row["images"]) for row in rows)
        plain_s, plain = _timed(lambda: Dataset.from_list(decoded))
        fast_s, fast = _timed(lambda: to_dataset(decoded))
        file_s, filed = _timed(lambda: to_dataset(rows))
        same = all(
            np.array_equal(np.asarray(a), np.asarray(b)) and np.array_equal(
                np.asarray(a), np.asarray(c))
            for row_a, row_b, row_c in zip(plain, fast, filed, strict=True)
            for a, b, c in zip(row_a["images"], row_b["images"], row_c["images"], strict=True)
        )
    fine = ", fine artifacts" if args.fine else ""
    lines = [
        f"SFT rows of {args.count} synthetic {args.size}-px records (seed {args.seed}{fine}), "
        f"{len(rows)} rows, {images} images of which {files} whole images of plain PNG files; "
        f"pixels identical: {'yes' if same else 'NO'}. Decoding those files for the first two "
        f"rows took {decoded_s:.1f} s more (not counted below).",
        "",
        "| training set | seconds | ms per image | Arrow MB |",
        "|---|---:|---:|---:|",
        f"| datasets' own encoding (PNG level 6) | {plain_s:.1f} | {1000 * plain_s / images:.1f} "
        f"| {plain.data.nbytes / 1e6:.0f} |",
        f"| `to_dataset` of decoded pixels (PNG level 1) | {fast_s:.1f} | "
        f"{1000 * fast_s / images:.1f} | {fast.data.nbytes / 1e6:.0f} |",
        f"| `to_dataset` (whole images as their files) | {file_s:.1f} | "
        f"{1000 * file_s / images:.1f} | {filed.data.nbytes / 1e6:.0f} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
