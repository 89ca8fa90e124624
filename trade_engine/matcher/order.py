"""The live order record and the price level that queues orders in time priority.

One module for both: an order points at its level and a level chains its orders (an intrusive
list), so neither can be defined without the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from msgspec.structs import astuple

from trade_engine.core.commands import PlaceOrder
from trade_engine.core.enums import OrderStatus, OrderType, Side, StpMode, TimeInForce


class Order:
    """One order. Mutable: the engine updates it in place as it fills, amends or ends.

    ``prev``/``next`` chain it into its price level (an intrusive doubly linked list gives O(1)
    cancel from the middle and O(1) pop from the front). ``reserved`` is what the order holds
    of its user's reserve asset right now (quote for a BUY, base for a SELL).
    """

    __slots__ = (
        "client_order_id",
        "closed_ts",
        "cmd",
        "filled",
        "filled_notional",
        "is_buy",
        "level",
        "limit",
        "maker_ppm",
        "next",
        "order_id",
        "order_type",
        "post_only",
        "prev",
        "price",
        "qty",
        "quote_budget",
        "remaining",
        "reserved",
        "seq",
        "side",
        "status",
        "stop_price",
        "stp",
        "symbol",
        "taker_ppm",
        "tif",
        "ts",
        "user_id",
    )

    def __init__(
        self,
        order_id: int,
        cmd: PlaceOrder,
        seq: int,
        ts: int,
        maker_ppm: int,
        taker_ppm: int,
        fields: PlaceFields,
    ) -> None:
        # the engine has unpacked the command once already (``place_fields``); reading a
        # msgspec field from compiled code is a generic attribute lookup, a tuple item is not
        (
            user_id,
            symbol,
            client_order_id,
            side,
            order_type,
            qty,
            price,
            stop_price,
            tif,
            post_only,
            stp,
            quote_qty,
        ) = fields
        self.order_id = order_id
        self.cmd = cmd  # the original request: idempotency compares a retry against it
        self.user_id = user_id
        self.symbol = symbol
        self.client_order_id = client_order_id
        self.side: Side = side
        self.is_buy = side is _BUY
        self.order_type: OrderType = order_type
        self.tif: TimeInForce = tif
        self.price = price
        self.limit = price  # worst price it may trade at (protection price for MARKET)
        self.stop_price = stop_price
        self.qty = qty
        self.remaining = qty
        self.filled = 0
        self.filled_notional = 0
        self.quote_budget = quote_qty
        self.post_only = post_only
        self.stp: StpMode = stp
        self.maker_ppm = maker_ppm  # rates are locked at acceptance
        self.taker_ppm = taker_ppm
        self.seq = seq  # time priority key in the trigger book and the state export
        self.ts = ts
        # engine time at which it closed (filled, cancelled or expired); 0 while open. The
        # client-id memory forgets it 24 h after this, and never while it is open.
        self.closed_ts = 0
        self.reserved = 0
        self.status: OrderStatus = _NEW
        self.level: Level | None = None
        self.prev: Order | None = None
        self.next: Order | None = None

    @staticmethod
    def from_cmd(
        order_id: int, cmd: PlaceOrder, seq: int, ts: int, maker_ppm: int, taker_ppm: int
    ) -> Order:
        return Order(order_id, cmd, seq, ts, maker_ppm, taker_ppm, place_fields(cmd))

    @property
    def is_open(self) -> bool:
        return is_open_status(self.status)

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id} u{self.user_id} {self.symbol} {self.side} {self.order_type}"
            f" px={self.price} rem={self.remaining}/{self.qty} {self.status})"
        )


# PlaceOrder's fields in declaration order (what ``astuple`` returns); checked at import
PlaceFields = tuple[int, str, str, Side, OrderType, int, int, int, TimeInForce, bool, StpMode, int]
_PLACE_FIELD_NAMES: Final = (
    "user_id",
    "symbol",
    "client_order_id",
    "side",
    "order_type",
    "qty",
    "price",
    "stop_price",
    "tif",
    "post_only",
    "stp",
    "quote_qty",
)
if PlaceOrder.__struct_fields__ != _PLACE_FIELD_NAMES:  # pragma: no cover - a schema edit
    raise ImportError("PlaceOrder's fields changed: update PlaceFields and place_fields")


def place_fields(c: PlaceOrder) -> PlaceFields:
    """All of a PlaceOrder's fields in one C call (see PlaceFields)."""
    return astuple(c)


_BUY: Final = Side.BUY
_NEW: Final = OrderStatus.NEW
_PARTIAL: Final = OrderStatus.PARTIALLY_FILLED
_PENDING: Final = OrderStatus.PENDING_TRIGGER


def is_open_status(st: OrderStatus) -> bool:
    """Still in play: resting, or waiting for its trigger.

    Identity tests, not ``st in {...}``: hashing an Enum member runs a Python-level __hash__.
    """
    return st is _NEW or st is _PARTIAL or st is _PENDING


class Level:
    """All resting orders at one price on one side, in time priority (head = oldest)."""

    __slots__ = ("count", "head", "mark", "price", "qty", "side", "symbol", "tail")

    def __init__(self, symbol: str, side: Side, price: int) -> None:
        self.symbol = symbol
        self.side = side
        self.price = price
        self.mark = 0  # engine scratch: stamp of the last command that reported this level
        self.qty = 0  # total remaining lots
        self.count = 0
        self.head: Order | None = None
        self.tail: Order | None = None

    def append(self, o: Order) -> None:
        o.level = self
        o.next = None
        o.prev = self.tail
        if self.tail is None:
            self.head = o
        else:
            self.tail.next = o
        self.tail = o
        self.qty += o.remaining
        self.count += 1

    def unlink(self, o: Order) -> None:
        """Remove ``o`` from the chain; the caller adjusts ``qty`` for what it removed."""
        p, n = o.prev, o.next
        if p is None:
            self.head = n
        else:
            p.next = n
        if n is None:
            self.tail = p
        else:
            n.prev = p
        o.prev = o.next = None
        o.level = None
        self.count -= 1

    def __iter__(self) -> Iterator[Order]:
        o = self.head
        while o is not None:
            yield o
            o = o.next
