#!/usr/bin/env bash
# Install dnadav (editable) with the CPU build of torch pinned first, so that no CUDA build is pulled.
# For a GPU machine, install the torch build you want first (https://pytorch.org), then run
# `pip install -e '.[dev]'` without the constraint.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q "torch==2.13.0"
python3 -m pip install -q -e ".[dev]" -c constraints.txt
