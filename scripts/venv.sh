#!/usr/bin/env bash
# Create (or reuse) .venv and install the project into it. Usage: scripts/venv.sh [extras]
# Prefers the distribution's /usr/bin/python3 (an optimised build; on the reference machine
# it runs the engine ~13 % faster than the pyenv build there, ADR 0005), else python3 on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py=$(scripts/pick-python.sh)
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    touch "$stamp"
fi
