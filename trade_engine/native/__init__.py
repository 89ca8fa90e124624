"""The native gateway: the engine's binary-protocol server (docs/protocol.md).

One gateway among the others; it stands on the neutral layer (``trade_engine.gateway``) and
speaks ``trade_engine.protocol``, as does its client (``trade_engine.client``).
"""

from trade_engine.native.options import ServerOptions
from trade_engine.native.server import Server, serve

__all__ = ["Server", "ServerOptions", "serve"]
