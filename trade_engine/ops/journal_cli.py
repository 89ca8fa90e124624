"""``trade-engine journal ...``: verify, stats, dump and replay (time travel) over a data dir.

A data directory holds ``journal/`` (segments, docs/journal-format.md) and ``snapshots/``
(recovery/snapshots.py). These tools only read it; they are safe to run next to a live
engine (the journal reader stops at a record that is still being written, which ``verify``
then reports as a torn tail).

Human output shows prices, quantities and amounts as decimals on the symbol's tick and lot
grid and in the asset's units (the symbol and asset definitions are taken from the journal
itself, or from a snapshot when the journal's start was pruned). ``dump --json`` shows the
engine's integers (ticks, lots, smallest units) as JSON integers, which are exact at any size.

Output goes to stdout; progress bars (only when stderr is a terminal) and diagnostics go to
stderr. ``verify`` exits 0 when everything is intact, 1 on damage or a replay mismatch, 3 when
the only finding is a torn journal tail (a crash mid-write: the engine cuts it on start, and
nobody was told about the records in it); the other commands exit 1 on damage and 2 on bad
arguments.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from trade_engine.core.commands import AddAsset, AddSymbol, UpdateSymbol
from trade_engine.core.symbols import SymbolSpec

if TYPE_CHECKING:  # the heavy modules are imported by the commands that use them
    from trade_engine.core.engine import Engine
    from trade_engine.gateway.units import Units
    from trade_engine.journal import JournalReader
    from trade_engine.recovery.snapshots import SnapshotInfo
    from trade_engine.wire.records import JournalEntry

EXIT_OK = 0
EXIT_DAMAGED = 1
EXIT_USAGE = 2
EXIT_TORN_TAIL = 3

journal_app = typer.Typer(
    name="journal",
    no_args_is_help=True,
    help="Inspect a data directory: verify, stats, dump, replay (time travel).",
)

DataDir = Annotated[
    Path,
    typer.Argument(
        help="Data directory holding journal/ and snapshots/.",
        exists=True,
        file_okay=False,
        dir_okay=True,
    ),
]

# --------------------------------------------------------------------------- small helpers


def format_ts(ns: int) -> str:
    """Engine timestamp (ns since the epoch) as UTC ISO 8601 with nanoseconds."""
    sec, frac = divmod(ns, 1_000_000_000)
    try:
        base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{ns}ns"
    return f"{base}.{frac:09d}Z"


def _fail(message: str, code: int = EXIT_DAMAGED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _dirs(data_dir: Path) -> tuple[Path, Path]:
    journal_dir = data_dir / "journal"
    if not journal_dir.is_dir():
        _fail(f"{data_dir} has no journal/ directory", EXIT_USAGE)
    return journal_dir, data_dir / "snapshots"


@contextmanager
def _progress(
    description: str, total: float | None, *, enabled: bool = True
) -> Iterator[Callable[[float], None]]:
    """A transient progress bar on stderr (only if stderr is a terminal); yields ``update``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(
        *columns,
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    ) as progress:
        task = progress.add_task(description, total=total)

        def update(completed: float) -> None:
            progress.update(task, completed=completed)

        yield update


@dataclass(slots=True)
class _SnapshotCheck:
    path: Path
    info: SnapshotInfo | None
    state: dict[str, Any] | None
    error: str | None


def _read_snapshots(paths: Iterable[Path]) -> Iterator[_SnapshotCheck]:
    """Each snapshot read and checked, or why it is unusable (lazily, in the given order)."""
    from trade_engine.recovery.snapshots import read_snapshot

    for path in paths:
        try:
            info, state = read_snapshot(path)
        except Exception as exc:  # SnapshotError names the file and what is wrong
            yield _SnapshotCheck(path, None, None, str(exc))
        else:
            yield _SnapshotCheck(path, info, state, None)


# --------------------------------------------------------------------------- describing records


_TICK_FIELDS = frozenset(
    {
        "price",
        "stop_price",
        "new_price",
        "last_price",
        "reference_price",
        "protection_price",
        "worst_price",
    }
)
_LOT_FIELDS = frozenset(
    {"qty", "new_qty", "remaining", "filled", "filled_qty", "maker_remaining", "taker_remaining"}
)
_QUOTE_FIELDS = frozenset({"notional", "maker_fee", "taker_fee", "filled_notional", "quote_qty"})
_ASSET_FIELDS = frozenset({"amount", "available", "reserved", "delta_available", "delta_reserved"})
_PLAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@#+")


def _text(s: str) -> str:
    return s if s and all(c in _PLAIN_CHARS for c in s) else json.dumps(s)


class Describer:
    """Commands and events as ``Type(field=value, ...)``, numbers in decimals via ``units``."""

    def __init__(self, units: Units) -> None:
        self.units = units

    def describe(self, rec: Any) -> str:
        """``Type(field=value, ...)`` with decimals; fields at their default are left out."""
        fields: tuple[str, ...] = rec.__struct_fields__
        defaults: tuple[Any, ...] = rec.__struct_defaults__
        first_default = len(fields) - len(defaults)
        symbol = getattr(rec, "symbol", "")
        asset = getattr(rec, "asset", "")
        parts = []
        for i, name in enumerate(fields):
            v = getattr(rec, name)
            if i >= first_default:
                d = defaults[i - first_default]
                if v == d and type(v) is type(d):
                    continue
            parts.append(f"{name}={self._value(name, v, symbol, asset)}")
        return f"{type(rec).__name__}({', '.join(parts)})"

    def _value(self, name: str, v: Any, symbol: str, asset: str) -> str:
        if v is None:
            return "none"
        if isinstance(v, Enum):
            return str(v.value)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            if name in _TICK_FIELDS:
                return self.units.price(symbol, v)
            if name in _LOT_FIELDS:
                return self.units.qty(symbol, v)
            if name in _QUOTE_FIELDS:
                return self.units.quote_amount(symbol, v)
            if name in _ASSET_FIELDS and asset:
                return self.units.amount(asset, v)
            return str(v)
        if isinstance(v, SymbolSpec):
            return self.describe(v).replace("SymbolSpec(", "{", 1)[:-1] + "}"
        if isinstance(v, str):
            return _text(v)
        return repr(v)

    def line(self, entry: JournalEntry) -> str:
        events = "; ".join(self.describe(e) for e in entry.events) or "(no events)"
        return f"{entry.seq}  {format_ts(entry.ts)}  {self.describe(entry.command)}  =>  {events}"


_DEFINING = (AddAsset, AddSymbol, UpdateSymbol)  # the commands whose events define units


def _units_before(reader: JournalReader, snapshot_dir: Path, seq: int, first: int) -> Units:
    """Definitions made before ``seq``: from the journal, plus a snapshot if it was pruned."""
    from trade_engine.gateway.units import Units
    from trade_engine.recovery.snapshots import list_snapshots
    from trade_engine.wire.records import decode_command, decode_entry

    units = Units()
    if first > 1:  # definitions older than the journal live only in snapshots (newest first)
        checks = _read_snapshots(list_snapshots(snapshot_dir))
        state = next((c.state for c in checks if c.state is not None), None)
        if state is not None:
            units.add_state(state)
    if seq > first:
        with _progress("reading symbol definitions", seq - first) as update:
            for n, (s, ts, payload) in enumerate(reader.read_from(first, to_seq=seq - 1), 1):
                if n % 4096 == 0:
                    update(n)
                if type(decode_command(payload)) in _DEFINING:
                    units.observe(decode_entry(s, ts, payload).events)
    return units


# --------------------------------------------------------------------------- verify


@journal_app.command()
def verify(
    data_dir: DataDir,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also replay from the start: recomputed events must equal the recorded "
            "ones, every snapshot must equal the replayed state at its seq, and start-up "
            "recovery must equal the full replay. Prints the final state hash.",
        ),
    ] = False,
) -> None:
    """Check the journal (headers, CRCs, seqs, hash chain) and every snapshot's checksum.

    Exit code 0: intact. 1: damage, an unusable snapshot, or a replay that differs (--deep).

    Exit code 3: only a torn tail, which the engine cuts on its next start.
    """
    from trade_engine.journal import JournalError, JournalReader, quarantined_tails
    from trade_engine.recovery.snapshots import list_snapshots, unfinished_snapshots

    journal_dir, snapshot_dir = _dirs(data_dir)
    problems: list[str] = []

    def problem(message: str) -> None:
        problems.append(message)
        typer.echo(f"ERROR: {message}", err=True)

    reader = JournalReader(journal_dir)
    torn = None
    first_seq = last_seq = None
    records = 0
    try:
        with _progress("verifying journal (CRC, seq, hash chain)", None):
            vs = reader.verify()
    except JournalError as exc:
        problem(f"journal: {exc}")
        journal_ok = False
    else:
        journal_ok = True
        torn = vs.torn_tail
        first_seq, last_seq, records = vs.first_seq, vs.last_seq, vs.records
        span = f"seq {first_seq}..{last_seq}" if records else "empty"
        typer.echo(
            f"journal {journal_dir}: OK: {vs.segments} segments, {records} records ({span}), "
            f"{vs.total_bytes} bytes, hash chain intact"
        )
        if vs.entering_hash is not None and vs.last_hash is not None:
            typer.echo(f"  chain: entering {vs.entering_hash.hex()}  last {vs.last_hash.hex()}")
        if first_seq is not None and first_seq > 1:
            typer.echo(f"  the journal starts at seq {first_seq} (older segments were pruned)")
        if torn is not None and torn.may_be_acknowledged:
            typer.echo(
                f"WARNING: {torn} (the record is complete, so seq {torn.seq} may have been "
                "acknowledged: bit rot, not a crash mid-write? The engine cuts it on its next "
                "start, keeping its bytes in quarantine, or refuses with sequencer.strict_tail)",
                err=True,
            )
        elif torn is not None:
            typer.echo(
                f"WARNING: {torn} (a crash mid-write; the engine cuts it on its next start)",
                err=True,
            )
    kept = quarantined_tails(journal_dir)
    if kept:
        typer.echo(
            f"note: {len(kept)} tail{'s' if len(kept) > 1 else ''} cut on start kept in "
            f"quarantine ({kept[0].parent}): {', '.join(p.name for p in kept)}"
        )

    # snapshots: checksum, place in the journal, which one a start would use
    checks = list(_read_snapshots(list_snapshots(snapshot_dir)))
    if not checks:
        typer.echo(f"snapshots {snapshot_dir}: none")
    for c in checks:
        if c.info is None:
            problem(f"snapshot {c.path.name}: {c.error}")
            continue
        info = c.info
        where = f"seq {info.seq}, {format_ts(info.ts)}, {info.size} bytes"
        if journal_ok and last_seq is not None and info.seq > last_seq:
            problem(
                f"snapshot {c.path.name} ({where}) is ahead of the journal, which ends at seq "
                f"{last_seq}: a start would refuse it"
            )
            continue
        if journal_ok and first_seq is not None and info.seq >= first_seq:
            recorded = next(iter(reader.read_from(info.seq, to_seq=info.seq)), None)
            if recorded is not None and recorded[1] != info.ts:
                problem(
                    f"snapshot {c.path.name}: its ts {format_ts(info.ts)} differs from the "
                    f"journal record at seq {info.seq} ({format_ts(recorded[1])}): it does "
                    "not belong to this journal"
                )
                continue
        typer.echo(f"snapshot {c.path.name}: OK ({where}, checksum good)")
    for tmp in unfinished_snapshots(snapshot_dir):
        typer.echo(f"note: {tmp.name} is an unfinished snapshot (ignored, removed later)")

    valid = [c for c in checks if c.info is not None]
    if journal_ok and first_seq is not None and first_seq > 1:
        newest = valid[0].info.seq if valid and valid[0].info else 0
        if newest + 1 < first_seq:
            problem(
                f"cannot start: the journal starts at seq {first_seq} but the newest usable "
                f"snapshot is at seq {newest}; records {newest + 1}..{first_seq - 1} are missing"
            )

    if deep and journal_ok and not problems:
        _deep_verify(journal_dir, snapshot_dir, reader, valid, first_seq, last_seq, problem)

    if problems:
        typer.echo(f"verify: FAILED ({len(problems)} problem(s))", err=True)
        raise typer.Exit(EXIT_DAMAGED)
    if torn is not None:
        typer.echo("verify: torn tail only", err=True)
        raise typer.Exit(EXIT_TORN_TAIL)
    typer.echo("verify: OK")


def _first_difference(recorded: list[Any], replayed: list[Any], describer: Describer) -> str:
    for i, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
        if a != b:
            return (
                f"event #{i + 1}: recorded {describer.describe(a)}, "
                f"replayed {describer.describe(b)}"
            )
    if len(recorded) != len(replayed):
        return f"recorded {len(recorded)} events, replayed {len(replayed)}"
    return "events differ"


def _deep_verify(
    journal_dir: Path,
    snapshot_dir: Path,
    reader: JournalReader,
    snapshots: list[_SnapshotCheck],
    first_seq: int | None,
    last_seq: int | None,
    problem: Callable[[str], None],
) -> None:
    from trade_engine.core.engine import Engine
    from trade_engine.core.state import restore_state, state_hash
    from trade_engine.gateway.units import Units
    from trade_engine.recovery.replay import recover
    from trade_engine.wire.records import decode_entry

    if first_seq is None or last_seq is None:
        typer.echo("deep: the journal holds no record; nothing to replay")
        return
    # start from genesis, or (pruned journal) from the oldest snapshot the journal continues
    engine = Engine()
    start = 1
    if first_seq > 1:
        usable = [c for c in snapshots if c.info and c.state and c.info.seq + 1 >= first_seq]
        if not usable:
            problem(f"deep: the journal starts at seq {first_seq} and no snapshot precedes it")
            return
        base = usable[-1]
        assert base.info is not None and base.state is not None
        engine = restore_state(base.state)
        start = base.info.seq + 1
        typer.echo(f"deep: starting from snapshot {base.path.name} (the journal was pruned)")
    expected_hashes: dict[int, tuple[str, str]] = {}
    for c in snapshots:
        if c.info is not None and c.state is not None and c.info.seq >= start:
            expected_hashes[c.info.seq] = (c.path.name, state_hash(restore_state(c.state)))

    describer = Describer(Units.of_engine(engine))
    replayed = 0
    apply = engine.apply
    with _progress("replaying the journal", last_seq - start + 1) as update:
        for seq, ts, payload in reader.read_from(start):
            try:
                entry = decode_entry(seq, ts, payload)
            except Exception as exc:
                problem(f"deep: seq {seq}: the record does not decode: {exc}")
                return
            events = apply(seq, ts, entry.command)
            describer.units.observe(events)
            if events != entry.events:
                problem(
                    f"deep: seq {seq}: the replay does not reproduce the recorded events "
                    f"({_first_difference(entry.events, events, describer)})"
                )
                return
            replayed += 1
            if replayed % 1024 == 0:
                update(replayed)
            snap = expected_hashes.pop(seq, None)
            if snap is not None:
                name, expected = snap
                actual = state_hash(engine)
                if actual != expected:
                    problem(
                        f"deep: snapshot {name} does not match the replayed state at seq {seq} "
                        f"(snapshot {expected}, replay {actual})"
                    )
                    return
                typer.echo(f"deep: snapshot {name} equals the replayed state at seq {seq}")
    typer.echo(
        f"deep: replayed {replayed} records (seq {start}..{engine.seq}): "
        "every recomputed event equals the recorded one"
    )
    full = state_hash(engine)
    try:
        with _progress("start-up recovery (snapshot + tail)", None):
            rec = recover(journal_dir, snapshot_dir)
    except Exception as exc:
        problem(f"deep: start-up recovery fails: {exc}")
        return
    rec_hash = state_hash(rec.engine)
    source = f"snapshot seq {rec.snapshot_seq} + {rec.replayed} records"
    if rec.engine.seq != engine.seq or rec_hash != full:
        problem(
            f"deep: start-up recovery ({source}) gives seq {rec.engine.seq} hash {rec_hash}, "
            f"the full replay seq {engine.seq} hash {full}"
        )
        return
    typer.echo(f"deep: start-up recovery ({source}) equals the full replay")
    typer.echo(f"state hash at seq {engine.seq}: {full}")


# --------------------------------------------------------------------------- stats


@journal_app.command()
def stats(data_dir: DataDir) -> None:
    """Segments, records, first/last seq and time (UTC), bytes, commands per type, snapshots.

    Reads every record, checking CRCs; run verify for the hash chain.
    """
    from trade_engine.journal import JournalError, JournalReader
    from trade_engine.journal.format import RECORD_HEAD_SIZE
    from trade_engine.recovery.snapshots import list_snapshots
    from trade_engine.wire.records import decode_command

    journal_dir, snapshot_dir = _dirs(data_dir)
    reader = JournalReader(journal_dir)
    segments = reader.segments()
    total_bytes = sum(seg.path.stat().st_size for seg in segments)
    per_type: Counter[str] = Counter()
    first: tuple[int, int] | None = None
    last: tuple[int, int] | None = None
    records = 0
    done_bytes = 0
    try:
        with _progress("reading the journal", total_bytes) as update:
            if segments:
                for seq, ts, payload in reader.read_from(segments[0].first_seq):
                    if first is None:
                        first = (seq, ts)
                    last = (seq, ts)
                    records += 1
                    per_type[type(decode_command(payload)).__name__] += 1
                    done_bytes += RECORD_HEAD_SIZE + len(payload)
                    if records % 4096 == 0:
                        update(done_bytes)
    except JournalError as exc:
        _fail(f"journal: {exc}")

    out = typer.echo
    out(f"journal     {journal_dir}")
    out(f"segments    {len(segments)}")
    for i, seg in enumerate(segments):
        if i + 1 < len(segments):
            seg_last: int | None = segments[i + 1].first_seq - 1
        else:
            seg_last = last[0] if last is not None else None
        span = (
            f"seq {seg.first_seq}..{seg_last}"
            if seg_last is not None and seg_last >= seg.first_seq
            else "no records"
        )
        out(f"  {seg.path.name}  {span}  {seg.path.stat().st_size} bytes")
    out(f"records     {records}")
    if first is not None and last is not None:
        out(f"first seq   {first[0]}  {format_ts(first[1])}")
        out(f"last seq    {last[0]}  {format_ts(last[1])}")
    out(f"bytes       {total_bytes}")
    out("commands")
    width = max((len(k) for k in per_type), default=0)
    for name, count in sorted(per_type.items(), key=lambda kv: (-kv[1], kv[0])):
        out(f"  {name.ljust(width)}  {count}")
    snaps = list_snapshots(snapshot_dir)
    out(f"snapshots   {len(snaps)}")
    for c in _read_snapshots(snaps):
        if c.info is None:
            out(f"  {c.path.name}  UNUSABLE: {c.error}")
        else:
            out(f"  {c.path.name}  seq {c.info.seq}  {format_ts(c.info.ts)}  {c.info.size} bytes")


# --------------------------------------------------------------------------- dump


@journal_app.command()
def dump(
    data_dir: DataDir,
    from_seq: Annotated[
        int | None, typer.Option("--from-seq", min=1, help="First seq (default: the oldest).")
    ] = None,
    to_seq: Annotated[
        int | None, typer.Option("--to-seq", min=1, help="Last seq (default: the newest).")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per line: seq, ts, time, command, events; prices, "
            "quantities and amounts as exact JSON integers in ticks, lots and smallest units.",
        ),
    ] = False,
) -> None:
    """One line per record: seq, time (UTC), the command and the events it produced."""
    from trade_engine.core.codec import to_plain
    from trade_engine.journal import JournalError, JournalRangeError, JournalReader
    from trade_engine.wire.records import decode_entry

    journal_dir, snapshot_dir = _dirs(data_dir)
    reader = JournalReader(journal_dir)
    segments = reader.segments()
    if not segments:
        return
    first = segments[0].first_seq
    start = first if from_seq is None else from_seq
    if to_seq is not None and to_seq < start:
        _fail(f"--to-seq {to_seq} is before the first seq to dump ({start})", EXIT_USAGE)
    if start < first:
        _fail(
            f"seq {start} is no longer in the journal: it starts at seq {first} (pruned)",
            EXIT_USAGE,
        )
    try:
        describer = (
            None if as_json else Describer(_units_before(reader, snapshot_dir, start, first))
        )
        write = sys.stdout.write
        # a progress bar only when the dump goes to a file or a pipe, not over the terminal
        show = not sys.stdout.isatty()
        total = (to_seq if to_seq is not None else start) - start + 1
        n = 0
        with _progress(f"dumping from seq {start}", total if to_seq else None, enabled=show) as up:
            for n, (seq, ts, payload) in enumerate(reader.read_from(start, to_seq=to_seq), 1):
                entry = decode_entry(seq, ts, payload)
                if describer is None:
                    obj = {
                        "seq": seq,
                        "ts": ts,
                        "time": format_ts(ts),
                        "command": to_plain(entry.command),
                        "events": [to_plain(e) for e in entry.events],
                    }
                    write(json.dumps(obj, separators=(",", ":")) + "\n")
                else:
                    describer.units.observe(entry.events)
                    write(describer.line(entry) + "\n")
                if n % 4096 == 0:
                    up(n)
        sys.stdout.flush()
        if n == 0:  # past the end: say so rather than print nothing and succeed
            tail = reader.read_from(segments[-1].first_seq)  # the last segment only
            last = max((seq for seq, _, _ in tail), default=segments[-1].first_seq - 1)
            _fail(f"nothing to dump: the journal ends at seq {last}", EXIT_USAGE)
    except JournalRangeError as exc:
        _fail(str(exc), EXIT_USAGE)
    except JournalError as exc:
        _fail(f"journal: {exc}")
    except BrokenPipeError:  # `... | head`: the reader left; not an error
        _quiet_stdout()


def _quiet_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# --------------------------------------------------------------------------- replay


@journal_app.command()
def replay(
    data_dir: DataDir,
    to_seq: Annotated[
        int, typer.Option("--to-seq", min=1, help="Rebuild the state as it stood after this seq.")
    ],
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Show only this symbol's book.")
    ] = None,
    user: Annotated[
        int | None,
        typer.Option("--user", help="Show only this user's balances, and their open orders."),
    ] = None,
    levels: Annotated[
        int, typer.Option("--levels", min=0, help="Price levels per side (0 = all).")
    ] = 0,
) -> None:
    """Time travel: the books and balances as they stood at seq N, and the state hash.

    Rebuilt like the engine's start: newest usable snapshot at or below N + journal up to N.
    """
    from trade_engine.core.state import state_hash
    from trade_engine.gateway.units import Units

    journal_dir, snapshot_dir = _dirs(data_dir)
    engine, snapshot_seq, replayed = _rebuild(journal_dir, snapshot_dir, to_seq)

    if symbol is not None and symbol not in engine.markets:
        known = ", ".join(sorted(engine.markets)) or "none"
        _fail(f"no symbol {symbol!r} at seq {to_seq} (known: {known})", EXIT_USAGE)

    units = Units.of_engine(engine)
    out = typer.echo
    out(f"state as of seq {engine.seq} ({format_ts(engine.ts)})")
    if snapshot_seq:
        out(f"rebuilt from snapshot seq {snapshot_seq} + {replayed} journal records")
    else:
        out(f"rebuilt from the journal: {replayed} records")
    out(f"state hash {state_hash(engine)}")

    for sym in sorted(engine.markets):
        if symbol is not None and sym != symbol:
            continue
        m = engine.markets[sym]
        book = engine.books[sym]
        last = units.price(sym, m.last_price) if m.last_price else "none"
        out("")
        out(f"book {sym}  status {m.status.value}  last price {last}")
        for title, side in (("bids", book.bids), ("asks", book.asks)):
            depth = [
                (units.price(sym, price), units.qty(sym, qty), str(count))
                for price, qty, count in side.depth(levels)
            ]
            more = len(side.levels) - len(depth)
            out(f"  {title} (best first)")
            if not depth:
                out("    (empty)")
                continue
            _table(out, ("price", "qty", "orders"), depth, indent=4)
            if more > 0:
                out(f"    ... {more} more levels")
        out(f"  stop orders pending {len(book.stops)}")

    out("")
    accounts = engine.accounts.by_user
    users = sorted(accounts) if user is None else [user]
    rows: list[tuple[str, ...]] = []
    for uid in users:
        acct = accounts.get(uid)
        if acct is None:
            continue
        for asset in sorted(acct.balances):
            b = acct.balances[asset]
            rows.append(
                (
                    str(uid),
                    asset,
                    units.amount(asset, b.available),
                    units.amount(asset, b.reserved),
                )
            )
    out("balances (user 0 is the fee account)")
    if rows:
        _table(out, ("user", "asset", "available", "reserved"), rows, indent=2)
    else:
        who = f"user {user}" if user is not None else "any user"
        out(f"  (no balances for {who} at seq {engine.seq})")

    if user is not None:
        orders = sorted(
            (o for o in engine.orders.values() if o.user_id == user), key=lambda o: o.order_id
        )
        out("")
        out(f"open orders of user {user}")
        if not orders:
            out("  (none)")
        else:
            order_rows = [
                (
                    str(o.order_id),
                    o.symbol,
                    o.client_order_id,
                    o.side.value,
                    o.order_type.value,
                    units.price(o.symbol, o.price) if o.price else "-",
                    units.price(o.symbol, o.stop_price) if o.stop_price else "-",
                    units.qty(o.symbol, o.remaining),
                    units.qty(o.symbol, o.qty),
                    o.status.value,
                )
                for o in orders
            ]
            _table(
                out,
                (
                    "order_id",
                    "symbol",
                    "client_id",
                    "side",
                    "type",
                    "price",
                    "stop",
                    "remaining",
                    "qty",
                    "status",
                ),
                order_rows,
                indent=2,
            )


def _rebuild(journal_dir: Path, snapshot_dir: Path, to_seq: int) -> tuple[Engine, int, int]:
    """The engine as of ``to_seq``, rebuilt the way the engine starts (``recover``), the seq of
    the snapshot it started from (0: none) and how many journal records it replayed."""
    from trade_engine.journal import JournalError, first_seq
    from trade_engine.recovery.errors import RecordsMissingError
    from trade_engine.recovery.replay import recover

    first = first_seq(journal_dir)
    with _recovery_notes():
        try:
            total = _replay_total(snapshot_dir, to_seq)
            with _progress(f"replaying to seq {to_seq}", total) as update:
                rec = recover(journal_dir, snapshot_dir, to_seq=to_seq, progress=update)
        except JournalError as exc:
            _fail(f"journal: {exc}")
        except RecordsMissingError as exc:
            _fail(
                f"cannot rebuild seq {to_seq}: the journal starts at seq {exc.first_seq} and no "
                f"usable snapshot at or below seq {to_seq} covers seqs "
                f"{exc.snapshot_seq + 1}..{exc.first_seq - 1}"
            )
    if rec.engine.seq != to_seq:
        if first is None:
            _fail("the journal holds no record", EXIT_USAGE)
        _fail(f"the journal ends at seq {rec.engine.seq}; there is no seq {to_seq}", EXIT_USAGE)
    return rec.engine, rec.snapshot_seq, rec.replayed


def _replay_total(snapshot_dir: Path, to_seq: int) -> int:
    """Records ``recover`` replays up to ``to_seq``, for the progress bar: from the newest
    snapshot named at or below it (more if that one turns out to be unusable)."""
    from trade_engine.recovery.snapshots import list_snapshots, seq_of

    for path in list_snapshots(snapshot_dir):
        with suppress(ValueError):  # not named by a seq
            if (seq := seq_of(path)) <= to_seq:
                return to_seq - seq
    return to_seq


class _Notes(logging.Handler):
    """Recovery's log lines (a snapshot skipped as unusable) as ``note: ...`` on stderr, once."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.seen:
            self.seen.add(message)
            # sys.stderr as it is now: under a progress bar, rich's proxy prints above the bar
            print(f"note: {message}", file=sys.stderr)


@contextmanager
def _recovery_notes() -> Iterator[None]:
    logger = logging.getLogger("trade_engine.recovery")
    handler, propagate = _Notes(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # said once here, not again by a handler of the root logger
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _table(
    out: Callable[[str], None],
    header: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    *,
    indent: int,
) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    pad = " " * indent
    out(pad + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        out(pad + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
