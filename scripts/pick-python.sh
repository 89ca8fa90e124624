#!/usr/bin/env bash
# Print the interpreter to build venvs from: the distribution's /usr/bin/python3 (an optimised
# build; ADR 0005) when it is a usable 3.11+ with venv, else python3 on PATH.
set -euo pipefail
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
        "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "$cand"
        exit 0
    fi
done
echo "error: need Python >= 3.11 with the venv module" >&2
exit 1
