#!/usr/bin/env bash
# Set up and run every check: lint, format, types (strict on the core), tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy trade_engine
.venv/bin/pytest "$@"
