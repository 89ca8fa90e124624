"""Running a coroutine from a plain test function (pytest-asyncio is not installed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 30.0  # seconds; bounds every test that runs the loop (no test should get near it)


def run(coro: Awaitable[T], timeout: float = TIMEOUT) -> T:
    """asyncio.run with a hard bound, so a hang fails the test instead of the whole run."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())
