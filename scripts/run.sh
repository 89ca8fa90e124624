#!/usr/bin/env bash
# Set up and run the engine with embedded defaults (no Kafka, no PostgreSQL needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
exec .venv/bin/trade-engine "${@:-demo}"
