"""The engine's native binary protocol: frames, messages and Logon signing (docs/protocol.md).

Shared by its server (``trade_engine.native``) and its client (``trade_engine.client``); it
imports neither.
"""
