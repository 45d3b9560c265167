#!/bin/sh
# Creates (once) the Python venv the interop round-trip tests and the
# TensorBoard read-back test use (safetensors, numpy, tensorboard) and prints
# its interpreter path. torch is only installed with CAIRN_TORCH_TESTS=1: it
# pulls several GB of wheels from PyPI, far too slow for every fresh machine.
set -eu
venv="${CAIRN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn/venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -c "import safetensors, numpy" 2>/dev/null \
    || "$venv/bin/python" -m pip install --quiet safetensors numpy >&2
# tensorboard (its event-file reader) checks the TensorBoardLogger's files.
"$venv/bin/python" -c "import tensorboard" 2>/dev/null \
    || "$venv/bin/python" -m pip install --quiet tensorboard >&2
if [ "${CAIRN_TORCH_TESTS:-0}" = "1" ]; then
    "$venv/bin/python" -c "import torch" 2>/dev/null \
        || "$venv/bin/python" -m pip install --quiet torch >&2
fi
echo "$venv/bin/python"
