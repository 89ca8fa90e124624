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


def test_no_import_circles() -> None:
    import grimp

    graph = grimp.build_graph("trade_engine", cache_dir=None)
    modules = sorted(graph.modules)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.find_modules_directly_imported_by(m)):
            if state.get(n) == 1:
                return [*path[path.index(n) :], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        path.pop()
        state[m] = 2
        return None

    for m in modules:
        if m not in state:
            circle = visit(m)
            assert circle is None, " -> ".join(circle)
