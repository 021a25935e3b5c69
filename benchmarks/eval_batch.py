"""How long `lte-train eval` takes at each batch size, and whether the answers stay the same.

`trainer.evaluate.evaluate(..., batch_size=B)` analyses B images at once through the app's batch
mode (their Query 1s, then their Query 2s, as one left-padded `generate`). `lte-train demo`
evaluates and takes its first looks at B = 32 (`DemoSettings.eval_batch_size`). This script
evaluates one model on freshly made synthetic test images at each B, with the demo's token
limit, and checks that every row (verdicts, boxes, IoU, problems) equals the B = 1 run's.

    python benchmarks/eval_batch.py --out docs/eval_batch.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.evaluate import evaluate, open_model  # noqa: E402
from trainer.synth import generate  # noqa: E402


def _rows(report: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in report["samples"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "resources" / "demo-model"))
    parser.add_argument("--count", type=int, default=100, help="test images (default 100)")
    parser.add_argument("--seed", type=int, default=2,
                        help="synthetic seed (default 2, the demo recipe's test set: a timing, "
                        "not a quality figure)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)

    backend = open_model(args.model, args.max_new_tokens, device="cpu")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        records = generate(Path(tmp) / "test", args.count, args.seed)
        for size in args.sizes:
            report = evaluate(backend, records, batch_size=size)
            results.append((size, report))
            print(f"B={size}: {report['seconds_total']:.1f} s", file=sys.stderr, flush=True)
    base_size, base = results[0]
    load = os.getloadavg()[0]
    lines = [
        f"Model `{Path(args.model).name}`, {args.count} synthetic test images (seed {args.seed}), "
        f"clean, located close-ups, {args.max_new_tokens} new tokens at most; "
        f"{os.cpu_count()} CPU cores, load average {load:.1f} at the end.",
        "",
        "| B | seconds | s per image | vs B = 1 | rows equal to B = 1 | Acc | I-Acc |",
        "|---:|---:|---:|---:|---|---:|---:|",
    ]
    all_same = True
    for size, report in results:
        same = sum(a == b for a, b in zip(_rows(base), _rows(report), strict=True))
        all_same &= same == len(base["samples"])
        overall = report["degradations"]["clean"]["overall"]
        seconds = report["seconds_total"]
        lines.append(
            f"| {size} | {seconds:.1f} | {seconds / args.count:.2f} | "
            f"{base['seconds_total'] / seconds:.2f}x | {same} of {len(base['samples'])} | "
            f"{overall['acc']:.3f} | {overall['i_acc']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(
            {"model": args.model, "count": args.count, "seed": args.seed,
             "seconds": {str(s): r["seconds_total"] for s, r in results},
             "rows_equal": all_same, "baseline_batch_size": base_size}, indent=1) + "\n",
            encoding="utf-8")
    return 0 if all_same else 1


if __name__ == "__main__":
    raise SystemExit(main())
