"""Export, restore and hash the whole core state.

The export is plain data (dicts, lists, str, int, bool, None) in a canonical order, so that
``restore(export(e))`` is indistinguishable from ``e``: same hash, same queue positions, same
client-id memory, same next ids. The state hash is SHA-256 over the canonical encoding of the
export; two engines that applied the same commands have the same hash, byte for byte.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from trade_engine.accounts.ledger import Balance
from trade_engine.core.engine import Engine
from trade_engine.core.enums import SymbolStatus
from trade_engine.core.state_record import OrderRow, StateRecord
from trade_engine.core.symbols import Asset, Market, spec_from_dict, spec_to_dict
from trade_engine.matcher.book import OrderBook
from trade_engine.matcher.order import Order, is_open_status

STATE_VERSION = 1


def _order_rows(orders: list[Order]) -> list[list[Any]]:
    """One row per order: its original command as a map, then the fields that change.

    The commands are converted in one msgspec call (C speed), not field by field.
    """
    cmds = msgspec.to_builtins([o.cmd for o in orders])
    # enums are StrEnums: they encode (msgpack, JSON, the canonical hash) as their values
    return [
        [
            cmd,
            o.order_id,
            o.price,
            o.limit,
            o.qty,
            o.remaining,
            o.filled,
            o.filled_notional,
            o.quote_budget,
            o.maker_ppm,
            o.taker_ppm,
            o.seq,
            o.ts,
            o.reserved,
            o.status,
        ]
        for cmd, o in zip(cmds, orders, strict=True)
    ]


def _orders_from_rows(rows: list[OrderRow]) -> dict[int, Order]:
    """Rebuild the order records (rows come in order id order)."""
    out: dict[int, Order] = {}
    for row in rows:
        (
            cmd,
            oid,
            price,
            limit,
            qty,
            remaining,
            filled,
            notional,
            budget,
            maker,
            taker,
            seq,
            ts,
            reserved,
            status,
        ) = row
        o = Order.from_cmd(oid, cmd, seq, ts, maker, taker)
        o.price = price
        o.limit = limit
        o.qty = qty
        o.remaining = remaining
        o.filled = filled
        o.filled_notional = notional
        o.quote_budget = budget
        o.reserved = reserved
        o.status = status
        out[oid] = o
    return out


def export_state(e: Engine) -> dict[str, Any]:
    """The full core state as canonical plain data."""
    orders: dict[int, Order] = dict(e.orders)
    for o in e.by_id.values():  # open, or finished within the client-id memory
        orders.setdefault(o.order_id, o)
    books = {}
    for symbol in sorted(e.books):
        b = e.books[symbol]
        books[symbol] = {
            "bids": [[lv.price, [o.order_id for o in lv]] for lv in b.bids.iter_levels()],
            "asks": [[lv.price, [o.order_id for o in lv]] for lv in b.asks.iter_levels()],
            "stops": [o.order_id for o in b.stops.orders()],
        }
    accounts = []
    for uid in sorted(e.accounts.by_user):
        a = e.accounts.by_user[uid]
        accounts.append(
            [
                uid,
                a.market_maker,
                a.stp_exempt,
                a.suspended,
                a.tier,
                a.maker_ppm,
                a.taker_ppm,
                [[k, a.balances[k].available, a.balances[k].reserved] for k in sorted(a.balances)],
            ]
        )
    return {
        "version": STATE_VERSION,
        "seq": e.seq,
        "ts": e.ts,
        "next_order_id": e.next_order_id,
        "next_trade_id": e.next_trade_id,
        "assets": [[a.code, a.decimals] for a in sorted(e.assets.values(), key=lambda a: a.code)],
        "markets": [
            {
                "spec": spec_to_dict(m.spec),
                "status": m.status.value,
                "last_price": m.last_price,
            }
            for _, m in sorted(e.markets.items())
        ],
        "accounts": accounts,
        "orders": _order_rows([orders[oid] for oid in sorted(orders)]),
        "books": books,
        # the closed orders still remembered, in the order they closed (open orders are
        # remembered because they are open: restore rebuilds their ids from ``orders``)
        "coids": [[o.closed_ts, o.user_id, o.client_order_id, o.order_id] for o in e.coid_queue],
        "transfers": [[tid, *t] for tid, t in e.accounts.transfers.items()],
    }


def state_record(data: dict[str, Any]) -> StateRecord:
    """``export_state``'s plain data as a typed StateRecord, after its version check."""
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported state version {data.get('version')!r}")
    return msgspec.convert(data, StateRecord)


def restore_state(data: dict[str, Any] | StateRecord) -> Engine:
    """Build an engine from ``export_state`` output (plain, or decoded as a StateRecord)."""
    if isinstance(data, dict):
        data = state_record(data)
    elif data.version != STATE_VERSION:
        raise ValueError(f"unsupported state version {data.version!r}")
    e = Engine()
    e.seq = data.seq
    e.ts = data.ts
    e.next_order_id = data.next_order_id
    e.next_trade_id = data.next_trade_id
    for code, decimals in data.assets:
        e.assets[code] = Asset(code, decimals)
    for md in data.markets:
        spec = spec_from_dict(md["spec"])
        m = Market(spec, e.assets[spec.base], e.assets[spec.quote])
        m.status = SymbolStatus(md["status"])
        m.last_price = md["last_price"]
        e.markets[spec.symbol] = m
        e.books[spec.symbol] = OrderBook(spec.symbol)
    for uid, mm, exempt, suspended, tier, maker, taker, bals in data.accounts:
        a = e.accounts.get(uid)
        a.market_maker, a.stp_exempt, a.suspended = mm, exempt, suspended
        a.tier, a.maker_ppm, a.taker_ppm = tier, maker, taker
        for asset, avail, res in bals:
            a.balances[asset] = Balance(uid, asset, avail, res)
    by_id = _orders_from_rows(data.orders)
    for symbol, bd in data.books.items():
        book = e.books[symbol]
        for side_key, side in (("bids", book.bids), ("asks", book.asks)):
            for _price, ids in reversed(bd[side_key]) if side.is_bid else bd[side_key]:
                for oid in ids:
                    side.add(by_id[oid])
        for oid in bd["stops"]:
            book.stops.add(by_id[oid])
    accounts = e.accounts.by_user
    known, queue = e.by_id, e.coid_queue
    for oid, o in by_id.items():  # in order id order
        if is_open_status(o.status):
            acct = accounts[o.user_id]
            acct.open_orders[oid] = o
            acct.coids[o.client_order_id] = o
            known[oid] = o
    for ts, uid, coid, oid in data.coids:
        o = by_id[oid]
        if is_open_status(o.status):
            # a snapshot from before close times were recorded listed open orders here too
            # (with the time they were last kept): an open order is remembered anyway
            continue
        accounts[uid].coids[coid] = o
        known[oid] = o
        # (such a snapshot's time for a closed order is when it was accepted or last kept,
        # not when it closed: it is forgotten when the engine that wrote it would have)
        o.closed_ts = ts
        queue.append(o)
    for tid, kind, uid, asset, amount in data.transfers:
        e.accounts.transfers[tid] = (kind, uid, asset, amount)
    return e


def canonical_bytes(obj: Any) -> bytes:
    """A deterministic byte encoding of plain data (type-tagged, length-prefixed)."""
    out: list[bytes] = []
    _enc(obj, out)
    return b"".join(out)


def _enc(v: Any, out: list[bytes]) -> None:
    if v is None:
        out.append(b"N")
    elif v is True:
        out.append(b"T")
    elif v is False:
        out.append(b"F")
    elif isinstance(v, int):
        s = str(v).encode()
        out.append(b"i%d:%s" % (len(s), s))
    elif isinstance(v, str):
        s = v.encode()
        out.append(b"s%d:%s" % (len(s), s))
    elif isinstance(v, list | tuple):
        out.append(b"l%d:" % len(v))
        for x in v:
            _enc(x, out)
    elif isinstance(v, dict):
        out.append(b"d%d:" % len(v))
        for k in v:
            _enc(k, out)
            _enc(v[k], out)
    else:
        raise TypeError(f"cannot encode {type(v).__name__} in state")


def state_hash(e: Engine) -> str:
    """SHA-256 (hex) of the canonical encoding of ``export_state(e)``."""
    return hashlib.sha256(canonical_bytes(export_state(e))).hexdigest()
