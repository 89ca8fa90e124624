#!/usr/bin/env bash
# Set up and run every check: lint, format, types (mypy strict), unused code, tests
# (the import-layer contracts run as a test: tests/test_architecture.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh dev
.venv/bin/ruff check trade_engine tests bench examples setup.py
.venv/bin/ruff format --check trade_engine tests bench examples setup.py
.venv/bin/mypy trade_engine
# unused code in the package (what only tests or benches use counts as used)
dead=$(.venv/bin/vulture trade_engine tests bench examples scripts/vulture_whitelist.py --min-confidence 60 \
    | grep '^trade_engine/' || true)
if [ -n "$dead" ]; then
    echo "unused code (remove it, or name it in scripts/vulture_whitelist.py with the reason):" >&2
    echo "$dead" >&2
    exit 1
fi
.venv/bin/pytest "$@"
