#!/usr/bin/env bash
# Install, then analyse the bundled sample photographs end to end with the demo checkpoint when
# resources/demo-model holds one (made by `lte-train demo DIR --install` on a synthetic task, NOT
# a detector). Without it, a tiny *random* Qwen2.5-VL (verdicts "unparsed") shows the flow runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install.sh
VENV=${LTE_VENV:-.venv}
MODEL_ARGS=()
if [ ! -f resources/demo-model/config.json ]; then
  "$VENV/bin/lte-train" init-tiny .cache/tiny-random --seed 0
  MODEL_ARGS=(--model .cache/tiny-random --max-new-tokens 200)
fi
"$VENV/bin/lte-inspect" analyze resources/samples "${MODEL_ARGS[@]}" --json results.jsonl
echo "results written to results.jsonl"
