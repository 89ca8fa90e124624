#!/usr/bin/env bash
# Build (or reuse) .venv-run: the engine as it runs in production, a non-editable install with
# the hot core compiled by mypyc (same source, same results; .ci/run proves it on every run).
# Rebuilt when a source file changes. Without a C compiler it installs the pure package and
# says so. Usage: scripts/build.sh [--pure]
# BUILD_VENV and BUILD_PYTHON build the same install into another venv with another interpreter
# (scripts/bench-peer.sh: .venv-peer on Python >= 3.12, which the peer engine needs).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${BUILD_PYTHON:-$(scripts/pick-python.sh)}
venv=${BUILD_VENV:-.venv-run}
stamp="$venv/.built"
if [ ! -x "$venv/bin/python" ]; then
    echo "building $venv, the production install (about a minute the first time)" >&2
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
if [ -f "$stamp" ] && [ -z "$(find trade_engine pyproject.toml setup.py -newer "$stamp" -print -quit)" ] &&
    [ "${1:-}" != --pure ]; then
    exit 0
fi
# setuptools reuses build/: a module compiled by an earlier build would ship again
rm -rf build
# the pure package with its runtime deps first; mypyc then type-checks against those deps
echo "  1/3 installing the package and its dependencies" >&2
"$venv/bin/python" -m pip install --quiet .
echo "  2/3 installing the build tools (mypy, setuptools)" >&2
"$venv/bin/python" -m pip install --quiet "setuptools>=68" wheel "mypy>=1.10"
[ "${1:-}" = --pure ] || echo "  3/3 compiling the core with mypyc (about 30 s)" >&2
if [ "${1:-}" != --pure ] && command -v gcc >/dev/null 2>&1 &&
    TRADE_ENGINE_MYPYC=1 "$venv/bin/python" -m pip install --quiet --no-build-isolation \
        --force-reinstall --no-deps . >"$venv/build.log" 2>&1; then
    echo "built $venv (compiled core)" >&2
else
    echo "warning: the compiled build failed or was not asked for; $venv runs the pure core" \
        "(see $venv/build.log)" >&2
fi
touch "$stamp"
