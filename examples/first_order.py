"""Fund a user, place a BUY, and read it back: the README's first steps with a running engine.

Start an engine first (``scripts/run.sh``), then ``.venv-run/bin/python examples/first_order.py``
(another engine address as the argument: ``tcp://host:port`` or a Unix socket path).
The engine counts in integers (prices in ticks, quantities in lots, amounts in an asset's
smallest unit); ``Units`` turns the decimal strings people write into those, using the
engine's own asset and symbol definitions.
"""

import asyncio
import sys

from trade_engine.client import EngineClient
from trade_engine.core.commands import Deposit, PlaceOrder
from trade_engine.core.enums import Side
from trade_engine.gateway.units import Units


async def main() -> None:
    # demo credentials of trade_engine/config/default.yaml: a gateway may act for any user
    target = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7300"
    async with EngineClient.connect(target, "demo-gateway", "demo-gateway-secret") as c:
        units = Units()
        units.add_answers(await c.query("assets"), await c.query("symbols"))
        usdt = units.parse_amount("USDT", "1000")  # 1000 USDT in its smallest units
        r = await c.submit(Deposit(7, "USDT", usdt, transfer_id="readme-deposit-7"))
        print("deposit", r.seq, r.events[0])
        r = await c.submit(
            PlaceOrder(
                7,
                "BTC-USDT",
                "readme-order-1",
                Side.BUY,
                qty=units.parse_qty("BTC-USDT", "0.005"),  # lots
                price=units.parse_price("BTC-USDT", "50000"),  # ticks
            )
        )
        print("order", r.seq, r.events[0])  # answered once its journal record is fsynced
        print(await c.query("order", user_id=7, client_order_id="readme-order-1"))
        # a retry with the same client_order_id returns the same order, not a second one
        again = await c.submit(
            PlaceOrder(
                7,
                "BTC-USDT",
                "readme-order-1",
                Side.BUY,
                qty=units.parse_qty("BTC-USDT", "0.005"),
                price=units.parse_price("BTC-USDT", "50000"),
            )
        )
        print("retry", again.events[0])


asyncio.run(main())
