from helpers.engine import Harness, trades

from trade_engine.core.events import OrderAccepted


def test_cross_and_invariants() -> None:
    h = Harness()
    h.fund(1, usdt=10**13)
    h.fund(2, btc=10**9)
    ev = h.sell(2, 10_000, 5_000_000)
    assert ev[0].__class__ is OrderAccepted
    ev = h.buy(1, 5_000, 5_000_100)
    t = trades(ev)
    assert [(x.price, x.qty) for x in t] == [(5_000_000, 5_000)]
    h.check_invariants()
