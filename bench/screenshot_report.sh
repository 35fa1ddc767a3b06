#!/usr/bin/env bash
# Render a report.html to PNG with headless Chromium and no network (Debian: apt-get install chromium).
#   bash bench/screenshot_report.sh report/report.html out.png
set -euo pipefail
page=$(readlink -f "$1")
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$profile" --window-size=1280,4200 \
  --screenshot="$2" "file://$page" 2>/dev/null
rm -rf "$profile"
