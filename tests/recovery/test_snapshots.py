"""Snapshot files read back with types (recovery's fast path) and as plain data."""

from __future__ import annotations

from pathlib import Path

import pytest

from trade_engine.core.commands import AddAsset, AddSymbol, Deposit, PlaceOrder
from trade_engine.core.engine import Engine
from trade_engine.core.enums import Side
from trade_engine.core.state import export_state, state_hash
from trade_engine.core.state_record import StateRecord
from trade_engine.core.symbols import SymbolSpec
from trade_engine.recovery.snapshots import (
    SnapshotError,
    load_newest,
    read_snapshot,
    read_snapshot_record,
    write_snapshot,
)


def _engine(huge: bool) -> Engine:
    e = Engine()
    amount = 10**30 if huge else 10**12  # 10**30 does not fit msgpack's 64-bit ints
    cmds = [
        AddAsset("ETH", 18),
        AddAsset("USDT", 6),
        AddSymbol(SymbolSpec("ETH-USDT", "ETH", "USDT", tick="0.01", lot="0.0001")),
        Deposit(1, "ETH", amount, "d1"),
        Deposit(2, "USDT", 10**12, "d2"),
        PlaceOrder(1, "ETH-USDT", "s1", Side.SELL, qty=50, price=300_000),
        PlaceOrder(2, "ETH-USDT", "b1", Side.BUY, qty=20, price=300_000),  # trades
        PlaceOrder(2, "ETH-USDT", "b2", Side.BUY, qty=10, price=299_000),  # rests
    ]
    for seq, c in enumerate(cmds, 1):
        e.apply(seq, seq * 1000, c)
    return e


@pytest.mark.parametrize("huge", [False, True], ids=["64-bit", "bigint"])
def test_snapshot_record_restores_the_same_state(tmp_path: Path, huge: bool) -> None:
    e = _engine(huge)
    path = write_snapshot(tmp_path, e)
    info, rec = read_snapshot_record(path)
    assert isinstance(rec, StateRecord)
    assert info.seq == e.seq == rec.seq
    found = load_newest(tmp_path)
    assert found is not None
    restored = found[1]
    assert state_hash(restored) == state_hash(e)
    assert export_state(restored) == export_state(e)
    # the plain reader sees the same state
    assert read_snapshot(path)[1] == export_state(e)


def test_a_damaged_body_is_a_checksum_error_on_both_readers(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path, _engine(False))
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    for reader in (read_snapshot, read_snapshot_record):
        with pytest.raises(SnapshotError, match="checksum mismatch"):
            reader(path)
    assert load_newest(tmp_path) is None  # the only snapshot is unusable: full replay
