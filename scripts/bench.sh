#!/usr/bin/env bash
# Run the core benchmark with the production build (.venv-run, compiled core; scripts/build.sh).
# Usage: scripts/bench.sh [bench/core_bench.py args...]   (other benches: .venv-run/bin/python
# bench/<name>.py, run from bench/ or with -P so the source tree does not shadow the install)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd bench  # run from here so the source tree does not shadow the compiled install
exec ../.venv-run/bin/python core_bench.py "$@"
