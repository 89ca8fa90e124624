"""Snapshot files: the exported core state at one seq, written atomically with a checksum.

File ``snapshot-<seq:020d>.snap`` = 72-byte header + msgpack body.
Header: magic ``TESNAP01`` (8) | format version u32 | reserved u32 | seq u64 | ts i64 |
body length u64 | SHA-256 of the body (32 bytes)   (little-endian).
The body is ``export_state`` encoded with ``msgpack_codec`` (ints of any size). Written to a
``.tmp`` name, fsynced, renamed, then the directory fsynced: a crash leaves the old snapshot
set or the new one, never a half file under a real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from trade_engine.core.engine import Engine
from trade_engine.core.state import export_state, restore_state, state_record
from trade_engine.core.state_record import StateRecord
from trade_engine.wire import msgpack_codec

log = logging.getLogger(__name__)

MAGIC: Final = b"TESNAP01"
FORMAT_VERSION: Final = 1
_HEADER = struct.Struct("<8sIIQqQ32s")
_record_decoder = msgspec.msgpack.Decoder(StateRecord)
PREFIX: Final = "snapshot-"
SUFFIX: Final = ".snap"


class SnapshotError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    path: Path
    seq: int
    ts: int
    size: int


def snapshot_path(directory: Path, seq: int) -> Path:
    return directory / f"{PREFIX}{seq:020d}{SUFFIX}"


def encode_snapshot(state: dict[str, Any]) -> bytes:
    body = msgpack_codec.encode(state)
    header = _HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        0,
        state["seq"],
        state["ts"],
        len(body),
        hashlib.sha256(body).digest(),
    )
    return header + body


def write_snapshot_bytes(directory: Path, seq: int, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = snapshot_path(directory, seq)
    tmp = final.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        # a full disk (or any failure) must not leave a temp file behind: on a full disk it is
        # exactly the space the operator is looking for
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dfd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return final


def write_snapshot(directory: Path, engine: Engine) -> Path:
    """Export and write ``engine``'s state now, blocking (the sequencer forks a child that
    calls ``write_snapshot_bytes`` instead, so matching pauses only for the fork)."""
    return write_snapshot_bytes(directory, engine.seq, encode_snapshot(export_state(engine)))


def _read(path: Path) -> tuple[SnapshotInfo, memoryview, bytes]:
    """The header's facts, the body and its expected SHA-256, after the header checks."""
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise SnapshotError(f"{path}: shorter than its header")
    magic, version, _, seq, ts, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"{path}: not a snapshot (bad magic)")
    if version != FORMAT_VERSION:
        raise SnapshotError(f"{path}: snapshot format {version} is not readable by this release")
    body = memoryview(data)[_HEADER.size :]
    if len(body) != length:
        raise SnapshotError(f"{path}: body is {len(body)} bytes, header says {length}")
    return SnapshotInfo(path, seq, ts, len(data)), body, digest


def read_snapshot(path: Path) -> tuple[SnapshotInfo, dict[str, Any]]:
    """Read and check one snapshot as plain data; raises SnapshotError naming what is wrong."""
    info, body, digest = _read(path)
    if hashlib.sha256(body).digest() != digest:
        raise SnapshotError(f"{path}: checksum mismatch")
    state = msgpack_codec.decode(body)
    if not isinstance(state, dict) or state.get("seq") != info.seq:
        raise SnapshotError(f"{path}: body does not match its header")
    return info, state


def read_snapshot_record(path: Path) -> tuple[SnapshotInfo, StateRecord]:
    """Read and check one snapshot decoded with types (the fast path recovery takes).

    The checksum is computed on another thread while this one decodes (hashlib releases the
    GIL): nothing decoded is used before the checksum has matched.
    """
    info, body, digest = _read(path)
    actual: list[bytes] = []
    hasher = threading.Thread(
        target=lambda: actual.append(hashlib.sha256(body).digest()), name="snapshot-sha256"
    )
    hasher.start()
    rec: StateRecord | None = None
    try:
        rec = _record_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass  # a damaged body (the checksum says so below) or the plain path's case
    finally:
        hasher.join()
    if actual != [digest]:
        raise SnapshotError(f"{path}: checksum mismatch")
    if rec is None:
        # integers beyond 64 bits travel as msgpack ext, or an older layout: the plain path
        state = msgpack_codec.decode(body)
        if not isinstance(state, dict):
            raise SnapshotError(f"{path}: body does not match its header")
        rec = state_record(state)
    if rec.seq != info.seq:
        raise SnapshotError(f"{path}: body does not match its header")
    return info, rec


def seq_of(path: Path) -> int:
    """The seq a snapshot file is at, from its name (see ``snapshot_path``)."""
    return int(path.name[len(PREFIX) : -len(SUFFIX)])


def list_snapshots(directory: Path) -> list[Path]:
    """Snapshot files, newest (highest seq) first."""
    if not directory.is_dir():
        return []
    found = [
        p for p in directory.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX)
    ]
    return sorted(found, key=lambda p: p.name, reverse=True)


def unfinished_snapshots(directory: Path) -> list[Path]:
    """Temp files of snapshot writes that never finished (``write_snapshot_bytes``), by name."""
    return sorted(directory.glob(f"{PREFIX}*.tmp")) if directory.is_dir() else []


def load_newest(directory: Path, max_seq: int | None = None) -> tuple[SnapshotInfo, Engine] | None:
    """The newest snapshot that reads back whole (and is at or below ``max_seq``), restored.

    A damaged snapshot is reported and skipped in favour of an older one: the journal still
    holds everything, so falling back costs only replay time.
    """
    for path in list_snapshots(directory):
        try:
            if max_seq is not None and seq_of(path) > max_seq:
                continue  # newer than wanted, by its name: not worth reading
            info, state = read_snapshot_record(path)
        except (SnapshotError, ValueError, OSError, msgspec.DecodeError) as exc:
            log.error("skipping unusable snapshot: %s", exc)
            continue
        if max_seq is not None and info.seq > max_seq:
            continue
        return info, restore_state(state)
    return None


def verify_snapshot(path: Path) -> SnapshotInfo:
    """Check one snapshot's header and checksum without decoding it (what retention needs)."""
    info, body, digest = _read(path)
    if hashlib.sha256(body).digest() != digest:
        raise SnapshotError(f"{path}: checksum mismatch")
    return info


DAMAGED_SUFFIX: Final = ".damaged"


@dataclass(frozen=True, slots=True)
class Retention:
    """What ``retain_snapshots`` kept, removed and set aside."""

    kept: tuple[SnapshotInfo, ...]  # verified, newest first
    removed: tuple[Path, ...]  # older verified snapshots beyond ``keep``, and temp files
    set_aside: tuple[tuple[Path, str], ...]  # damaged: renamed to *.damaged, with the reason
    unreadable: tuple[tuple[Path, str], ...]  # could not be read (I/O): left as they are

    @property
    def oldest_kept_seq(self) -> int | None:
        """The journal may be pruned up to here, never further: None = prune nothing."""
        return self.kept[-1].seq if self.kept else None


def retain_snapshots(directory: Path, keep: int) -> Retention:
    """Keep the ``keep`` newest snapshots that verify; delete older verified ones.

    Only a snapshot that verifies counts: a damaged one is never a reason to delete a good
    one (issue 8, item 9). It is renamed to ``*.damaged`` (out of the way of every start,
    kept for inspection) and reported. A snapshot that cannot be read for an I/O reason is
    neither counted nor touched. So a verified snapshot is only deleted once ``keep`` newer
    verified ones exist, and the newest verified one never is.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest good snapshot is never deleted")
    kept: list[SnapshotInfo] = []
    removed: list[Path] = []
    set_aside: list[tuple[Path, str]] = []
    unreadable: list[tuple[Path, str]] = []
    for path in list_snapshots(directory):
        try:
            info = verify_snapshot(path)
        except SnapshotError as exc:
            aside = path.with_name(path.name + DAMAGED_SUFFIX)
            os.replace(path, aside)
            set_aside.append((aside, str(exc)))
            continue
        except OSError as exc:
            unreadable.append((path, str(exc)))
            continue
        if len(kept) < keep:
            kept.append(info)
        else:
            path.unlink()
            removed.append(path)
    for tmp in unfinished_snapshots(directory):
        tmp.unlink()
        removed.append(tmp)
    return Retention(tuple(kept), tuple(removed), tuple(set_aside), tuple(unreadable))
