"""E32/E33 (decision 0004): an examine step whose Query-1 rows hold the model's own answers while
its Query-2 rows are ground-truth contexts with decoy close-ups and the decisive-token loss.

    python docs/experiments/e32_read_step.py RUN_DIR OUT DECISIVE_WEIGHT DECOY_RATE

RUN_DIR is a finished ``lte-train demo`` run (its ``grpo`` model, ``data/examine`` records and
``impressions.jsonl``); OUT receives the trained model. E32 used weight 1 and decoy rate 0.5,
E33 decoy rate 0.25, both on /tmp/s30/full (E31's run). This mix of rows is now a switch:
``lte-train sft --own-first-look --truth-contexts`` and, in the recipe, ``lte-train demo
--examine-truth-contexts``; the script runs the recipe's examine-step settings with it. About 10
minutes on two cores.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from trainer.demo import DemoSettings, _say, _sft_settings
from trainer.locate_warmup import GRID
from trainer.sft import run_sft


def main() -> None:
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    weight, decoys = float(sys.argv[3]), float(sys.argv[4])
    settings = DemoSettings(out_dir=run, sft_where_rows=True, decoy_rate=decoys,
                            decisive_weight=weight)
    step = _sft_settings(settings, run / "grpo", run / "data" / "examine" / "records.jsonl",
                         out, 1.0, 3e-4, 20, GRID, impressions=run / "impressions.jsonl")
    run_sft(dataclasses.replace(step, own_first_look=True, truth_contexts=True), print_fn=_say)


if __name__ == "__main__":
    main()
