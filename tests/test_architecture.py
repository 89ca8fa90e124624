"""The import rules of docs/architecture.md, as import-linter contracts in pyproject.toml.

Checked on the source tree: the compiled install (mypyc extension modules) has no imports to
read, so this test runs only where ``trade_engine`` is the source.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import trade_engine.core.engine

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not trade_engine.core.engine.__file__.endswith(".py"),
    reason="the compiled build carries no import statements to check",
)


def test_import_contracts_hold() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _LINT, str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


_LINT = """
import sys
from importlinter.cli import lint_imports
sys.exit(lint_imports(config_filename=sys.argv[1], no_logo=True, cache_dir=None))
"""
