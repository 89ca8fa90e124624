#!/usr/bin/env bash
# Our core against the PyPI peer matching-engine 0.1.1 on the peer's own order flow
# (bench/peer_bench.py), both in ONE interpreter: the peer needs Python >= 3.12, so .venv-peer
# is built on one and holds the peer plus our package installed as in production (non-editable,
# core compiled by mypyc: scripts/build.sh with BUILD_VENV). Comparing against .venv-run (3.11)
# would measure two interpreters as well as two engines.
# Usage: scripts/bench-peer.sh [bench/peer_bench.py args...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-peer
if [ ! -x "$venv/bin/python" ]; then
    py=""
    cands=(python3.12 python3.13 python3)
    if command -v pyenv >/dev/null 2>&1; then  # (its shims only run the selected version)
        cands+=("$(pyenv root)"/versions/3.1[2-9]*/bin/python3)
    fi
    for cand in "${cands[@]}"; do
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' \
                2>/dev/null; then
            py=$("$cand" -c 'import sys; print(sys.executable)')  # (not a pyenv shim)
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "error: matching-engine 0.1.1 needs Python >= 3.12 with venv; none found" >&2
        exit 1
    fi
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
BUILD_VENV=$venv BUILD_PYTHON="$venv/bin/python" scripts/build.sh
if ! "$venv/bin/python" -c \
    'import importlib.metadata as m, sys; sys.exit(m.version("matching-engine") != "0.1.1")' \
    2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet "matching-engine==0.1.1"
fi
cd bench  # run from here so the source tree does not shadow the compiled install
exec "../$venv/bin/python" peer_bench.py "$@"
