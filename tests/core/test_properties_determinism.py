"""Properties of determinism over random flows (see helpers/flow.py): replay gives the same
events and state hash, with or without building events, and from a restored state."""

from __future__ import annotations

import json

import pytest
from helpers.flow import Flow, props, replay
from helpers.strategies import Scenario, scenarios
from hypothesis import given, note
from hypothesis import strategies as st

from trade_engine.core import codec
from trade_engine.core.engine import Engine
from trade_engine.core.events import (
    BalanceChanged,
    BookLevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    Trade,
)
from trade_engine.core.state import export_state, restore_state, state_hash


@props()
@given(scenarios())
def test_replay_is_deterministic(scn: Scenario) -> None:
    """The same command log on a fresh engine gives the same events and state hash."""
    flow = Flow(scn)
    original = [[codec.to_plain(ev) for ev in s.events] for s in flow.steps]
    e2, replayed = replay(flow.log)
    for s, a, b in zip(flow.steps, original, replayed, strict=True):
        assert a == b, f"seq {s.seq} {s.cmd!r}: events differ on replay"
    assert state_hash(e2) == state_hash(flow.h.engine)


@props()
@given(scenarios(), st.integers(0, 10_000))
def test_replay_without_events_builds_the_same_state(scn: Scenario, cut: int) -> None:
    """Recovery applies with ``emit=False`` (no hot-path events built): after any prefix of the
    log, and at the end, the state hash equals that of the run that built every event; the
    only events it still returns are rejections, duplicates' reports and admin results."""
    flow = Flow(scn)
    k = cut % (len(flow.steps) + 1)
    quiet = Engine()
    quiet.emit = False
    hot = (OrderAccepted, Trade, BalanceChanged, BookLevelChanged, OrderCancelled, OrderExpired)
    for i, (seq, ts, cmd) in enumerate(flow.log):
        if i == k:
            e1, _ = replay(flow.log[:k])
            assert state_hash(quiet) == state_hash(e1), f"quiet replay differs after {k} steps"
        events = quiet.apply(seq, ts, cmd)
        assert not [ev for ev in events if isinstance(ev, hot)]
    assert state_hash(quiet) == state_hash(flow.h.engine)


@props()
@given(scenarios(), st.integers(0, 10_000))
def test_restore_mid_flow(scn: Scenario, cut: int) -> None:
    """export_state -> (JSON) -> restore_state at any point, then the rest of the log: same
    events and state hash as the uninterrupted run."""
    flow = Flow(scn)
    k = cut % (len(flow.steps) + 1)
    e1, _ = replay(flow.log[:k])
    exported = export_state(e1)
    h1 = state_hash(e1)
    restored = restore_state(json.loads(json.dumps(exported)))
    assert state_hash(restored) == h1, "restored engine hashes differently"
    _, rest = replay(flow.log[k:], restored)
    original = [[codec.to_plain(ev) for ev in s.events] for s in flow.steps[k:]]
    for s, a, b in zip(flow.steps[k:], original, rest, strict=True):
        if a != b:
            note(flow.describe(upto=s.index + 1))
            pytest.fail(
                f"restored at step {k}: seq {s.seq} {s.cmd!r} events differ:\n"
                f"  uninterrupted {a}\n  restored      {b}"
            )
    assert state_hash(restored) == state_hash(flow.h.engine)
