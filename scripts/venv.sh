#!/usr/bin/env bash
# Create (or reuse) .venv and install the project into it. Usage: scripts/venv.sh [extras]
# Prefers the distribution's /usr/bin/python3 (an optimised build; on the reference machine
# it runs the engine ~13 % faster than the pyenv build there, ADR 0005), else python3 on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
        "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        py="$cand"
        break
    fi
done
if [ -z "$py" ]; then
    echo "error: need Python >= 3.11 with the venv module" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    touch "$stamp"
fi
