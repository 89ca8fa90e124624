#!/usr/bin/env bash
# Build a compiled (mypyc) install of the engine in .venv-bench and run a benchmark with it.
# Usage: scripts/bench.sh [bench/core_bench.py args...]
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if [ ! -x .venv-bench/bin/python ]; then
    "$py" -m venv .venv-bench
    .venv-bench/bin/python -m pip install --quiet --upgrade pip
fi
# mypyc type-checks while compiling, so the build needs the runtime deps' type information
.venv-bench/bin/python -m pip install --quiet "setuptools>=68" wheel "mypy>=1.10" \
    "msgspec>=0.18" "sortedcontainers>=2.4" "msgpack>=1.0.7" "typer>=0.12" "pydantic>=2.5" \
    "pyyaml>=6"
TRADE_ENGINE_MYPYC=1 .venv-bench/bin/python -m pip install --quiet --no-build-isolation \
    --force-reinstall --no-deps .
cd bench  # run from here so the source tree does not shadow the compiled install
exec ../.venv-bench/bin/python core_bench.py "$@"
