#!/bin/sh
# Creates (once) the Python venv that the interop tests and benchmarks use and
# prints its interpreter path. Exits 3, with the reason on stderr, when there is
# no python3 able to make a venv: the tests skip only then.
#
# torch is installed from a CPU wheel found in pip's find-links directories
# (this machine's pip.conf points at /opt/wheels): plain `pip install torch`
# pulls several GB of CUDA wheels, so it is only the fallback.
set -eu

# Module names double as package names; add new ones here.
packages="numpy safetensors lightning tensorboard"

venv="${CAIRN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn/venv}"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    echo "ensure-venv.sh: no python3 with the venv and ensurepip modules" >&2
    exit 3
fi
mkdir -p "$(dirname "$venv")"
# Test processes and helpers may run this at once; one installs, the others wait.
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
python="$venv/bin/python"

# The newest torch-*+cpu wheel for this Python in pip's find-links directories.
cpu_torch_wheel() {
    tag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    links="${PIP_FIND_LINKS:-$("$python" -m pip config get global.find-links 2>/dev/null || true)}"
    for directory in $links; do
        directory="${directory#file://}"
        [ -d "$directory" ] && ls "$directory"/torch-*+cpu-"$tag"-"$tag"-*linux*_"$(uname -m)".whl 2>/dev/null
    done | sort -V | tail -n 1
}

imports=$(echo "$packages torch" | sed 's/ /, /g')
if ! "$python" -c "import $imports" 2>/dev/null; then
    torch=$(cpu_torch_wheel)
    # shellcheck disable=SC2086 # the package list is meant to split into words
    "$python" -m pip install --quiet $packages "${torch:-torch}" >&2
fi
echo "$python"
