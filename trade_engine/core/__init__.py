"""The deterministic core: commands in, events out. No I/O, no clock, no randomness.

The core is made of this package (types, validation, the engine's command loop) and the
``trade_engine.matcher`` and ``trade_engine.accounts`` packages. None of them import anything
from gateways, sinks or I/O modules.
"""
