#!/usr/bin/env bash
# Set up and run the engine with embedded defaults (no Kafka, no PostgreSQL needed).
# The first run builds .venv-run (the compiled core, about a minute; scripts/build.sh).
# Any arguments replace "engine": scripts/run.sh demo, scripts/run.sh journal stats data, ...
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec .venv-run/bin/trade-engine "${@:-engine}"
