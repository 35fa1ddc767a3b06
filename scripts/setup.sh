#!/usr/bin/env bash
# Create (or reuse) the project virtual environment and install dnadav into it (editable, with the
# [dev] extra). Nothing is installed into the system or pyenv Python: only `python3 -m venv` runs there.
#
#   bash scripts/setup.sh                  # CPU build of torch (default), venv in ./.venv
#   DNADAV_VENV=~/envs/dnadav bash scripts/setup.sh     # another venv location
#   DNADAV_TORCH=keep bash scripts/setup.sh             # keep the torch already in the venv (e.g. a CUDA build)
#   DNADAV_TORCH=cuda bash scripts/setup.sh             # torch from PyPI as is (the CUDA build on Linux)
#
# CPU torch: the pinned version (constraints.txt) with the PyTorch CPU wheel index as an extra
# index, so pip takes the "+cpu" wheel wherever that index is reachable. Where it is not (an
# offline mirror, a firewall) pip says so in one warning and takes the pinned version from the
# ordinary index; if even that fails, the pinned version is installed with pip's own settings.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${DNADAV_VENV:-.venv}"
torch_mode="${DNADAV_TORCH:-cpu}"
cpu_index="${DNADAV_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
torch_pin=$(grep -E '^torch==' constraints.txt | head -n 1)

if [ ! -x "$venv/bin/python" ]; then
  base="${PYTHON:-python3}"
  echo "setup: creating the virtual environment $venv with $($base --version 2>&1)"
  if ! "$base" -m venv "$venv"; then
    echo "setup: error: '$base -m venv' failed; on Debian/Ubuntu run 'sudo apt-get install python3-venv'," \
      "or set PYTHON=/path/to/python3.10+" >&2
    exit 1
  fi
fi
py="$venv/bin/python"
"$py" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' || {
  echo "setup: error: dnadav needs Python >= 3.10 in $venv" >&2
  exit 1
}
pip=("$py" -m pip install -q --disable-pip-version-check)

have_torch=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ -n "$have_torch" ] && { [ "$torch_mode" != "cpu" ] || [ "${have_torch%%+*}" = "${torch_pin#torch==}" ]; }; then
  echo "setup: keeping torch $have_torch in $venv"
elif [ "$torch_mode" = "cpu" ]; then
  echo "setup: installing $torch_pin (CPU build; extra index $cpu_index)"
  "${pip[@]}" --retries 0 --timeout 20 --extra-index-url "$cpu_index" "$torch_pin" || {
    echo "setup: that failed; installing $torch_pin with pip's own settings"
    "${pip[@]}" "$torch_pin"
  }
elif [ "$torch_mode" = "cuda" ]; then
  echo "setup: installing $torch_pin from the default index (the CUDA build on Linux)"
  "${pip[@]}" "$torch_pin"
else
  echo "setup: error: DNADAV_TORCH must be cpu, cuda or keep (keep needs torch installed in $venv already)" >&2
  exit 1
fi

extras="${DNADAV_EXTRAS:-dev}"
echo "setup: installing dnadav (editable, [$extras] extras) into $venv"
"${pip[@]}" -e ".[$extras]"
echo "setup: done: $("$venv/bin/dnadav" --version), torch $("$py" -c 'import torch; print(torch.__version__)')."
echo "setup: run it as $venv/bin/dnadav, or 'source $venv/bin/activate' first and then just 'dnadav'."
