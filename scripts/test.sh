#!/usr/bin/env bash
# Set up and run every check: lint, format, types (strict on the core), tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh dev
.venv/bin/ruff check trade_engine tests bench setup.py
.venv/bin/ruff format --check trade_engine tests bench setup.py
.venv/bin/mypy trade_engine
.venv/bin/pytest "$@"
