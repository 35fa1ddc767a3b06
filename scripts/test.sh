#!/usr/bin/env bash
# The README's test command: set up the project venv (scripts/setup.sh), then run the whole test
# suite in it (slow tests included). Extra arguments go to pytest, e.g. `bash scripts/test.sh -m 'not slow'`.
set -euo pipefail
cd "$(dirname "$0")/.."
DNADAV_EXTRAS="${DNADAV_EXTRAS:-dev,image}" bash scripts/setup.sh  # the tests cover the image plugin too
"${DNADAV_VENV:-.venv}/bin/python" -m pytest -p no:cacheprovider "$@"
