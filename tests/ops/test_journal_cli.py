"""`trade-engine journal verify | stats | dump | replay` over a data directory written by a
real sequencer. Expected values are computed independently: from what submit() returned,
from a fresh Engine fed the same commands, and with decimal.Decimal for the formatting."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
import typer
from helpers.journal import record_offsets
from helpers.sequencer import (
    commands,
    flip_byte,
    reference,
    reference_hash,
    running,
    segments,
    submit_all,
)
from typer.testing import CliRunner, Result

from trade_engine.core.events import BalanceChanged, BookLevelChanged, Trade
from trade_engine.journal import JournalWriter
from trade_engine.ops.journal_cli import journal_app
from trade_engine.sequencer import JournalEntry
from trade_engine.wire.records import encode_record

app = typer.Typer()
app.add_typer(journal_app, name="journal")

SNAP_A = 1000  # a snapshot in the middle (written in-process); the newest is at the end
DECIMALS = {"BTC": 8, "USDT": 8, "ETH": 18}
TICK, LOT = Decimal("0.01"), Decimal("0.0001")


@dataclass(frozen=True)
class Data:
    dir: Path
    entries: list[JournalEntry]

    @property
    def n(self) -> int:
        return len(self.entries)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    d = tmp_path_factory.mktemp("data")
    cmds = commands(1300)  # 1,505 commands; the flow starts at seq 206

    async def go() -> list[JournalEntry]:
        async with running(d, segment_size=60_000) as seqr:
            entries = await submit_all(seqr, cmds[:SNAP_A])
            seqr.snapshot_now(fork=False)
            entries += await submit_all(seqr, cmds[SNAP_A:])
            seqr.snapshot_now(fork=True)  # reaped (and complete) by stop()
            return entries

    return Data(d, asyncio.run(go()))


@pytest.fixture
def copy(data: Data, tmp_path: Path) -> Data:
    """A private copy to damage."""
    d = tmp_path / "data"
    shutil.copytree(data.dir, d)
    return Data(d, data.entries)


def cli(*args: object) -> Result:
    return CliRunner().invoke(app, ["journal", *map(str, args)])


def dec(units: int, decimals: int) -> str:
    """Independent decimal formatting: exact, no exponent, no trailing zeros."""
    with localcontext() as ctx:
        ctx.prec = 100
        text = format(Decimal(units).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price(ticks: int) -> str:
    return dec(ticks, 2)


def qty(lots: int) -> str:
    return dec(lots, 4)


def utc(ns: int) -> str:
    sec, frac = divmod(ns, 10**9)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def snap_name(seq: int) -> str:
    return f"snapshot-{seq:020d}.snap"


# --------------------------------------------------------------------------- verify


def test_verify_an_intact_data_dir(data: Data) -> None:
    r = cli("verify", data.dir)
    assert r.exit_code == 0, r.output
    segs = segments(data.dir)
    size = sum(p.stat().st_size for p in segs)
    lines = r.stdout.splitlines()
    assert lines[0] == (
        f"journal {data.dir / 'journal'}: OK: {len(segs)} segments, {data.n} records "
        f"(seq 1..{data.n}), {size} bytes, hash chain intact"
    )
    ts = {e.seq: e.ts for e in data.entries}
    assert f"snapshot {snap_name(SNAP_A)}: OK (seq {SNAP_A}, {utc(ts[SNAP_A])}, " in r.stdout
    assert f"snapshot {snap_name(data.n)}: OK (seq {data.n}, {utc(ts[data.n])}, " in r.stdout
    assert lines[-1] == "verify: OK"
    assert r.stderr == ""


def test_verify_deep_replays_and_prints_the_state_hash(data: Data) -> None:
    r = cli("verify", data.dir, "--deep")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert f"deep: snapshot {snap_name(SNAP_A)} equals the replayed state at seq {SNAP_A}" in out
    assert f"deep: snapshot {snap_name(data.n)} equals the replayed state at seq {data.n}" in out
    assert f"deep: replayed {data.n} records (seq 1..{data.n})" in out
    assert f"deep: start-up recovery (snapshot seq {data.n} + 0 records) equals" in out
    assert f"state hash at seq {data.n}: {reference_hash(data.entries)}" in out.splitlines()
    assert out.splitlines()[-1] == "verify: OK"


def test_verify_names_a_flipped_byte_precisely(copy: Data) -> None:
    seg = segments(copy.dir)[1]
    seq, offset, size = record_offsets(seg)[10]
    flip_byte(seg, offset + size - 3)
    r = cli("verify", copy.dir)
    assert r.exit_code == 1
    assert (
        f"ERROR: journal: journal corrupt: {seg}: byte offset {offset}, seq {seq}: "
        "CRC mismatch (in a sealed segment)"
    ) in r.stderr.splitlines()
    assert r.stderr.splitlines()[-1] == "verify: FAILED (1 problem(s))"


def test_verify_reports_a_torn_tail_with_its_own_exit_code(copy: Data) -> None:
    last = segments(copy.dir)[-1]
    seq, offset, size = record_offsets(last)[-1]
    os.truncate(last, offset + size - 5)
    # with the snapshot taken at the torn seq, the engine could not start: an error
    r = cli("verify", copy.dir)
    assert r.exit_code == 1
    assert f"snapshot {snap_name(copy.n)} (seq {copy.n}, " in r.stderr
    assert f"is ahead of the journal, which ends at seq {copy.n - 1}" in r.stderr
    # without it, what is left is what a crash mid-write leaves: a warning, exit code 3
    (copy.dir / "snapshots" / snap_name(copy.n)).unlink()
    r = cli("verify", copy.dir)
    assert r.exit_code == 3, r.output
    assert (
        f"WARNING: torn tail in {last}: {size - 5} bytes from offset {offset} (seq {seq}): "
        "incomplete record"
    ) in r.stderr
    assert f"records (seq 1..{seq - 1})" in r.stdout
    assert r.stderr.splitlines()[-1] == "verify: torn tail only"


def test_verify_flags_a_damaged_snapshot(copy: Data) -> None:
    path = copy.dir / "snapshots" / snap_name(SNAP_A)
    flip_byte(path, path.stat().st_size // 2)
    r = cli("verify", copy.dir)
    assert r.exit_code == 1
    assert f"ERROR: snapshot {snap_name(SNAP_A)}: {path}: checksum mismatch" in r.stderr
    assert f"snapshot {snap_name(copy.n)}: OK" in r.stdout


def test_verify_flags_a_snapshot_ahead_of_the_journal(copy: Data) -> None:
    segs = segments(copy.dir)
    segs[-1].unlink()  # a clean cut: the journal now ends at the previous segment's end
    last = record_offsets(segs[-2])[-1][0]
    r = cli("verify", copy.dir)
    assert r.exit_code == 1
    assert (
        f"snapshot {snap_name(copy.n)} (seq {copy.n}, " in r.stderr
        and f"is ahead of the journal, which ends at seq {last}" in r.stderr
    )


def test_verify_deep_catches_events_that_the_replay_does_not_reproduce(tmp_path: Path) -> None:
    """A journal whose chain is intact but one record's events were rewritten before it was
    hashed (a bug, or a forger with the writer): only the replay can tell."""
    cmds = commands(300)
    d = tmp_path / "data"

    async def go() -> list[JournalEntry]:
        async with running(d) as seqr:
            return await submit_all(seqr, cmds)

    entries = asyncio.run(go())
    victim = next(e for e in entries[300:] if any(type(x) is Trade for x in e.events))
    shutil.rmtree(d / "journal")
    with JournalWriter(d / "journal", sync=False) as w:
        for e in entries:
            events = e.events
            if e is victim:
                events = [
                    x if type(x) is not Trade else Trade(**{**_fields(x), "maker_fee": 0})
                    for x in e.events
                ]
            w.append(e.seq, e.ts, encode_record(e.command, events))
    assert cli("verify", d).exit_code == 0  # CRCs and chain are fine
    r = cli("verify", d, "--deep")
    assert r.exit_code == 1
    assert f"ERROR: deep: seq {victim.seq}: the replay does not reproduce the recorded events" in (
        r.stderr
    )
    assert "maker_fee=0," in r.stderr


def _fields(x: object) -> dict[str, object]:
    return {f: getattr(x, f) for f in x.__struct_fields__}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- stats


def test_stats(data: Data) -> None:
    r = cli("stats", data.dir)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    segs = segments(data.dir)
    assert f"segments    {len(segs)}" in lines
    firsts = [int(p.name[:20]) for p in segs]
    for i, p in enumerate(segs):
        last = firsts[i + 1] - 1 if i + 1 < len(segs) else data.n
        assert f"  {p.name}  seq {firsts[i]}..{last}  {p.stat().st_size} bytes" in lines
    assert f"records     {data.n}" in lines
    assert f"first seq   1  {utc(data.entries[0].ts)}" in lines
    assert f"last seq    {data.n}  {utc(data.entries[-1].ts)}" in lines
    assert f"bytes       {sum(p.stat().st_size for p in segs)}" in lines
    per_type = Counter(type(e.command).__name__ for e in data.entries)
    at = lines.index("commands")
    shown = dict(line.split() for line in lines[at + 1 : at + 1 + len(per_type)])
    assert {k: int(v) for k, v in shown.items()} == dict(per_type)
    assert "snapshots   2" in lines
    ts = {e.seq: e.ts for e in data.entries}
    for seq in (SNAP_A, data.n):
        size = (data.dir / "snapshots" / snap_name(seq)).stat().st_size
        assert f"  {snap_name(seq)}  seq {seq}  {utc(ts[seq])}  {size} bytes" in lines


# --------------------------------------------------------------------------- dump


def test_dump_a_range_one_readable_line_per_record(data: Data) -> None:
    r = cli("dump", data.dir, "--from-seq", 700, "--to-seq", 1300)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(700, 1301))
    for line, e in zip(lines, data.entries[699:1300], strict=True):
        assert line.split()[1] == utc(e.ts)
        assert line.split()[2].startswith(type(e.command).__name__ + "(")
        assert line.count("; ") >= len(e.events) - 1
    # the big-integer deposit, with its asset's 18 decimals, exactly
    r = cli("dump", data.dir, "--from-seq", 205, "--to-seq", 205)
    e = data.entries[204]
    assert r.stdout == (
        f"205  {utc(e.ts)}  Deposit(user_id=7, asset=ETH, amount=123.000000000000000005, "
        "transfer_id=eth-7, operator=wallet)  =>  TransferApplied(kind=DEPOSIT, "
        "transfer_id=eth-7, user_id=7, asset=ETH, amount=123.000000000000000005, "
        "duplicate=false, operator=wallet); BalanceChanged(user_id=7, asset=ETH, "
        "available=123.000000000000000005, reserved=0, "
        "delta_available=123.000000000000000005, delta_reserved=0)\n"
    )


def test_dump_shows_trades_in_decimals(data: Data) -> None:
    e = next(e for e in data.entries[1100:] if any(type(x) is Trade for x in e.events))
    t = next(x for x in e.events if type(x) is Trade)
    r = cli("dump", data.dir, "--from-seq", e.seq, "--to-seq", e.seq)
    assert r.exit_code == 0, r.output
    assert (
        f"Trade(trade_id={t.trade_id}, symbol=BTC-USDT, price={price(t.price)}, "
        f"qty={qty(t.qty)}, notional={dec(t.notional, 8)}, taker_side={t.taker_side.value}, "
    ) in r.stdout
    assert f"maker_fee={dec(t.maker_fee, 8)}, taker_fee={dec(t.taker_fee, 8)}, " in r.stdout


def test_dump_json_has_exact_integers(data: Data) -> None:
    r = cli("dump", data.dir, "--json", "--to-seq", 400)
    assert r.exit_code == 0, r.output
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["seq"] for o in objs] == list(range(1, 401))
    for o, e in zip(objs, data.entries, strict=False):
        assert (o["ts"], o["time"]) == (e.ts, utc(e.ts))
        assert o["command"]["type"] == type(e.command).__name__
        assert o["command"]["v"] == 1
        assert [x["type"] for x in o["events"]] == [type(x).__name__ for x in e.events]
    eth = objs[204]
    assert eth["command"]["amount"] == 123 * 10**18 + 5  # a JSON integer, exact
    assert eth["events"][1]["available"] == 123 * 10**18 + 5
    assert '"amount":123000000000000000005,' in r.stdout.splitlines()[204]


def test_dump_refuses_a_range_that_is_not_there(copy: Data) -> None:
    r = cli("dump", copy.dir, "--from-seq", 50, "--to-seq", 10)
    assert r.exit_code == 2
    assert "--to-seq 10 is before the first seq to dump (50)" in r.stderr
    # after pruning, the old part is gone
    segs = segments(copy.dir)
    segs[0].unlink()
    r = cli("dump", copy.dir, "--from-seq", 1, "--to-seq", 10)
    assert r.exit_code == 2
    assert f"seq 1 is no longer in the journal: it starts at seq {int(segs[1].name[:20])}" in (
        r.stderr
    )


def test_dump_past_the_end_says_where_the_journal_ends(data: Data) -> None:
    last = data.entries[-1].seq
    r = cli("dump", data.dir, "--from-seq", last + 5)
    assert r.exit_code == 2
    assert f"nothing to dump: the journal ends at seq {last}" in r.stderr
    r = cli("dump", data.dir, "--from-seq", last)  # the last record itself is there
    assert r.exit_code == 0 and r.stdout.startswith(f"{last} ")


# --------------------------------------------------------------------------- replay


def _section(lines: list[str], title: str) -> list[str]:
    """The lines under ``title`` that are indented deeper than it."""
    i = lines.index(title) + 1
    depth = len(title) - len(title.lstrip())
    out = []
    while i < len(lines) and len(lines[i]) - len(lines[i].lstrip()) > depth:
        out.append(lines[i])
        i += 1
    return out


def _expected_view(entries: list[JournalEntry], upto: int) -> tuple[dict, dict, int]:
    """Balances, book and last price at ``upto``, folded from the events alone."""
    balances: dict[tuple[str, str], tuple[str, str]] = {}
    levels: dict[tuple[str, int], tuple[int, int]] = {}
    last_price = 0
    for e in entries[:upto]:
        for x in e.events:
            if type(x) is BalanceChanged:
                d = DECIMALS[x.asset]
                balances[(str(x.user_id), x.asset)] = (dec(x.available, d), dec(x.reserved, d))
            elif type(x) is BookLevelChanged:
                levels[(x.side.value, x.price)] = (x.qty, x.orders)
            elif type(x) is Trade:
                last_price = x.price
    book: dict[str, list[tuple[str, str, str]]] = {}
    for side, best_first in (("BUY", True), ("SELL", False)):
        rows = sorted(
            ((p, q, n) for (s, p), (q, n) in levels.items() if s == side and q),
            reverse=best_first,
        )
        book[side] = [(price(p), qty(q), str(n)) for p, q, n in rows]
    return balances, book, last_price


def _parse_replay(out: str) -> tuple[dict, dict, str]:
    lines = out.splitlines()
    bal_lines = _section(lines, "balances (user 0 is the fee account)")
    assert bal_lines[0].split() == ["user", "asset", "available", "reserved"]
    balances = {}
    for line in bal_lines[1:]:
        user, asset, avail, res = line.split()
        balances[(user, asset)] = (avail, res)
    book: dict[str, list[tuple[str, ...]]] = {}
    for side, title in (("BUY", "  bids (best first)"), ("SELL", "  asks (best first)")):
        rows = _section(lines, title)
        if rows == ["    (empty)"]:
            book[side] = []
        else:
            assert rows[0].split() == ["price", "qty", "orders"]
            book[side] = [tuple(r.split()) for r in rows[1:]]
    header = next(line for line in lines if line.startswith("book BTC-USDT"))
    return balances, book, header


@pytest.mark.parametrize(
    ("upto", "source"),
    [
        (800, "rebuilt from the journal: 800 records"),
        (SNAP_A, f"rebuilt from snapshot seq {SNAP_A} + 0 journal records"),
        (1400, f"rebuilt from snapshot seq {SNAP_A} + 400 journal records"),
    ],
)
def test_replay_shows_books_and_balances_as_they_stood(data: Data, upto: int, source: str) -> None:
    r = cli("replay", data.dir, "--to-seq", upto)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    e = data.entries[upto - 1]
    assert lines[:3] == [
        f"state as of seq {upto} ({utc(e.ts)})",
        source,
        f"state hash {reference_hash(data.entries, upto)}",
    ]
    balances, book, header = _parse_replay(r.stdout)
    exp_balances, exp_book, last = _expected_view(data.entries, upto)
    assert balances == exp_balances
    assert book == exp_book
    assert book["BUY"] and book["SELL"]  # a non-trivial book
    assert header == f"book BTC-USDT  status TRADING  last price {price(last) if last else 'none'}"


def test_replay_for_one_user_shows_their_balances_and_open_orders(data: Data) -> None:
    upto = 1400
    engine = reference(data.entries, upto)
    user = max(
        (u for u in range(1, 101)),
        key=lambda u: sum(1 for o in engine.orders.values() if o.user_id == u),
    )
    r = cli("replay", data.dir, "--to-seq", upto, "--user", user, "--symbol", "BTC-USDT")
    assert r.exit_code == 0, r.output
    balances, _book, _ = _parse_replay(r.stdout)
    acct = engine.accounts.by_user[user]
    assert balances == {
        (str(user), a): (dec(b.available, DECIMALS[a]), dec(b.reserved, DECIMALS[a]))
        for a, b in acct.balances.items()
    }
    lines = r.stdout.splitlines()
    rows = _section(lines, f"open orders of user {user}")
    mine = sorted(
        (o for o in engine.orders.values() if o.user_id == user), key=lambda o: o.order_id
    )
    assert mine
    assert [row.split() for row in rows[1:]] == [
        [
            str(o.order_id),
            "BTC-USDT",
            o.client_order_id,
            o.side.value,
            o.order_type.value,
            price(o.price) if o.price else "-",
            price(o.stop_price) if o.stop_price else "-",
            qty(o.remaining),
            qty(o.qty),
            o.status.value,
        ]
        for o in mine
    ]


def test_replay_skips_a_damaged_snapshot_like_the_engine_does(copy: Data) -> None:
    flip_byte(copy.dir / "snapshots" / snap_name(SNAP_A), 100)
    r = cli("replay", copy.dir, "--to-seq", 1400)
    assert r.exit_code == 0, r.output
    assert "note: skipping unusable snapshot:" in r.stderr
    assert "rebuilt from the journal: 1400 records" in r.stdout
    assert f"state hash {reference_hash(copy.entries, 1400)}" in r.stdout


def test_replay_refuses_what_it_cannot_show(data: Data) -> None:
    r = cli("replay", data.dir, "--to-seq", data.n + 1)
    assert r.exit_code == 2
    assert f"the journal ends at seq {data.n}; there is no seq {data.n + 1}" in r.stderr
    r = cli("replay", data.dir, "--to-seq", 100, "--symbol", "ETH-USDT")
    assert r.exit_code == 2
    assert "no symbol 'ETH-USDT' at seq 100 (known: BTC-USDT)" in r.stderr
    r = cli("replay", data.dir / "nope", "--to-seq", 5)
    assert r.exit_code == 2


def test_replay_of_a_pruned_journal_needs_a_snapshot(copy: Data) -> None:
    segs = segments(copy.dir)
    first_left = next(int(p.name[:20]) for p in segs if int(p.name[:20]) > 1)
    for p in segs:
        if int(p.name[:20]) < first_left:
            p.unlink()
    r = cli("replay", copy.dir, "--to-seq", first_left - 1)
    assert r.exit_code == 1
    assert f"the journal starts at seq {first_left}" in r.stderr
    r = cli("replay", copy.dir, "--to-seq", 1400)  # snapshot 1000 + the journal: fine
    assert r.exit_code == 0, r.output
    assert f"state hash {reference_hash(copy.entries, 1400)}" in r.stdout


def test_progress_bars_go_to_stderr_and_leave_stdout_alone(
    data: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    plain = cli("replay", data.dir, "--to-seq", 1400).stdout
    # as if stderr were a terminal: the bars are drawn there, stdout stays the same
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    r = cli("replay", data.dir, "--to-seq", 1400)
    assert r.exit_code == 0, r.output
    assert r.stdout == plain
    assert "replaying to seq 1400" in r.stderr
    r = cli("verify", data.dir, "--deep")
    assert r.exit_code == 0, r.output
    assert "replaying the journal" in r.stderr
    r = cli("stats", data.dir)
    assert r.exit_code == 0 and "reading the journal" in r.stderr
