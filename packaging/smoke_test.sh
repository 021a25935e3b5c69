#!/usr/bin/env bash
# Release check: the built (PyInstaller) app starts and opens its window offscreen.
#   bash packaging/smoke_test.sh [dist/lte-inspector/lte-inspector]
set -euo pipefail
APP=${1:-dist/lte-inspector/lte-inspector}
export QT_QPA_PLATFORM=offscreen
export LTE_SETTINGS=$(mktemp -d)/settings.toml   # a first run: no model configured
out=$(timeout 300 "$APP" --smoke-test 2>&1) || { echo "$out"; echo "FAILED: the app did not start"; exit 1; }
echo "$out" | grep -q "window opened: LTE Inspector" || { echo "$out"; echo "FAILED: no window"; exit 1; }
echo "OK: $(echo "$out" | grep 'window opened')"
