#!/usr/bin/env bash
# Install LTE Inspector with every extra into ./.venv (or $LTE_VENV) on a fresh machine.
# torch/torchvision are installed first, pinned, so no other package pulls another build.
# (A light client for a model on a server needs no torch: pip install ".[gui,remote,report,forensics]",
# see README "Light client".)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LTE_VENV:-.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q "torch==2.14.1" "torchvision==0.29.1"
$PIP install -q -e ".[local,quant,remote,gui,report,forensics,train,test]"
echo "installed into $VENV"
