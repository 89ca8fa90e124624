"""The exported core state as a typed record, for decoding snapshots with types.

Its own module, never compiled: msgspec reads these annotations at run time, and a
mypyc-compiled module keeps only bare classes in ``__annotations__``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from trade_engine.core.commands import PlaceOrder
from trade_engine.core.enums import OrderStatus

# A state as decoded with types (snapshots take this path: no intermediate dicts, commands and
# enums built by msgspec in C). Same layout as ``export_state``'s plain data.
OrderRow = tuple[
    PlaceOrder, int, int, int, int, int, int, int, int, int, int, int, int, int, OrderStatus
]


class StateRecord(msgspec.Struct, gc=False):
    version: int
    seq: int
    ts: int
    next_order_id: int
    next_trade_id: int
    assets: list[tuple[str, int]]
    markets: list[dict[str, Any]]
    accounts: list[tuple[int, bool, bool, bool, str, int, int, list[tuple[str, int, int]]]]
    orders: list[OrderRow]
    books: dict[str, dict[str, list[Any]]]
    coids: list[tuple[int, int, str, int]]
    transfers: list[tuple[str, str, int, str, int]]
