"""Run against the mypyc-compiled core too (CI does, see .ci/run): skip what only the pure
core is specified to do."""

from __future__ import annotations

import pytest

import trade_engine.core.engine as _engine

COMPILED = not _engine.__file__.endswith(".py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not COMPILED:
        return
    skip = pytest.mark.skip(
        reason="compiled core: field types are checked by check_command before sequencing"
    )
    for item in items:
        if "wrong_types" in item.keywords:
            item.add_marker(skip)
