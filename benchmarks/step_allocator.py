"""How fast a demo SFT step runs under each memory allocator, and how often it faults pages in.

`lte-train demo` runs each training step in a process of its own, started with
`trainer.allocator.step_environment`: tcmalloc preloaded when the system has it, else glibc's malloc
kept from returning freed memory (`MALLOC_MMAP_MAX_=0`, `MALLOC_TRIM_THRESHOLD_`). This script
runs the recipe's SFT step for N steps from a finished recipe's locate model, once per
allocator, each in a fresh process, and reports seconds per step, CPU time in the kernel, minor
page faults and peak memory.

    python benchmarks/step_allocator.py RUN_DIR --steps 60 --out docs/step_allocator.md

RUN_DIR: a `lte-train demo` folder with `locate/` and `data/train/records.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.allocator import GLIBC_KEEP_MEMORY, find_tcmalloc  # noqa: E402


def _allocators() -> dict[str, dict[str, str]]:
    choices = {"glibc, as it is": {}, "glibc, memory kept": dict(GLIBC_KEEP_MEMORY)}
    library = find_tcmalloc()
    if library:
        choices["tcmalloc"] = {"LD_PRELOAD": library}
    return choices


def _one_run(run_dir: Path, out: Path, steps: int) -> None:
    """In the measured process: the recipe's SFT settings, ``steps`` steps, figures as JSON."""
    from dataclasses import replace

    from trainer.demo import DemoSettings, _sft_settings
    from trainer.locate_warmup import GRID
    from trainer.sft import run_sft

    settings = DemoSettings(out_dir=run_dir)
    step = _sft_settings(settings, run_dir / "locate", run_dir / "data/train/records.jsonl", out,
                         settings.sft_epochs, settings.sft_learning_rate, 30, GRID)
    run_sft(replace(step, max_steps=steps, save_steps=10_000, logging_steps=10),
            print_fn=lambda line: None)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"user": usage.ru_utime, "system": usage.ru_stime,
                      "minor_faults": usage.ru_minflt, "peak_kb": usage.ru_maxrss,
                      "seconds": json.loads((out / "training_info.json").read_text())["seconds"]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _one_run(args.run_dir, args.child, args.steps)
        return 0

    rows = []
    for name, extra in _allocators().items():
        env = {k: v for k, v in os.environ.items()
               if k != "LD_PRELOAD" and not k.startswith("MALLOC_")}
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, __file__, str(args.run_dir), "--steps", str(args.steps),
                 "--child", str(Path(tmp) / "sft")],
                env={**env, **extra}, capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((name, figures))
        print(f"{name}: {figures}", file=sys.stderr, flush=True)
    base = rows[0][1]["seconds"]
    lines = [
        f"The demo recipe's SFT step, {args.steps} steps from `{args.run_dir}/locate`; "
        f"{os.cpu_count()} CPU cores. Seconds: the step's own record (rows and model "
        "loading included).",
        "",
        "| allocator | seconds | vs as it is | CPU in the kernel | minor page faults | peak GB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in rows:
        kernel = f["system"] / (f["system"] + f["user"])
        lines.append(f"| {name} | {f['seconds']:.1f} | {base / f['seconds']:.2f}x | "
                     f"{kernel:.0%} | {f['minor_faults'] / 1e6:.1f} M | "
                     f"{f['peak_kb'] / 1e6:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
