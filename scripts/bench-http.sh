#!/usr/bin/env bash
# Issue 9's framework choice by measurement: FastAPI (pydantic v2) against Litestar (msgspec),
# the same minimal order-entry and depth endpoints, each under uvicorn, loaded by wrk (Debian)
# and autocannon (npm) from separate processes (bench/http_framework_bench.py).
# Builds .venv-http (gitignored) with the pinned frameworks and this package (editable), so
# trade_engine.gateway.units imports. Needs wrk and autocannon on PATH:
#   apt-get install -y wrk && npm i -g autocannon
# Usage: scripts/bench-http.sh [bench/http_framework_bench.py args...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-http
pins=(
    "fastapi==0.165.0"
    "pydantic==2.14.4"
    "litestar==2.25.0"
    "msgspec==0.23.0"
    "uvicorn==0.54.0"
    "uvloop==0.23.0"
    "httptools==0.9.0"
)
if [ ! -x "$venv/bin/python" ]; then
    py=$(scripts/pick-python.sh 2>/dev/null || command -v python3)
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
if ! "$venv/bin/python" -c 'import fastapi, litestar, uvicorn, trade_engine' 2>/dev/null ||
    ! "$venv/bin/python" - "${pins[@]}" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
    "$venv/bin/python" -m pip install --quiet "${pins[@]}" -e .
fi
for tool in wrk autocannon; do
    command -v "$tool" >/dev/null || { echo "error: $tool not on PATH (see the header)" >&2; exit 1; }
done
exec "$venv/bin/python" bench/http_framework_bench.py "$@"
