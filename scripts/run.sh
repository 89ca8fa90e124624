#!/usr/bin/env bash
# Set up and run the engine with embedded defaults (no Kafka, no PostgreSQL needed).
# Any arguments replace "engine": scripts/run.sh demo, scripts/run.sh journal stats data, ...
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
exec .venv/bin/trade-engine "${@:-engine}"
