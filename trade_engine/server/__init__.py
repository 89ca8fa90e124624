"""The engine's native binary protocol: length-prefixed msgpack frames over TCP / Unix sockets.

Reference: docs/protocol.md. ``serve`` starts a server in front of a ``Sequencer``;
``trade_engine.client.EngineClient`` is the matching client. The server half is imported
lazily so that the client (which shares ``frames``, ``messages`` and ``auth.sign``) does not
pull in the sequencer, the journal and the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trade_engine.server.auth import Credential, Role, sign
from trade_engine.server.messages import PROTOCOL_VERSION, ErrorCode

if TYPE_CHECKING:
    from trade_engine.server.server import Server, ServerOptions, serve

__all__ = [
    "PROTOCOL_VERSION",
    "Credential",
    "ErrorCode",
    "Role",
    "Server",
    "ServerOptions",
    "serve",
    "sign",
]


def __getattr__(name: str) -> Any:
    if name in ("Server", "ServerOptions", "serve"):
        from trade_engine.server import server

        return getattr(server, name)
    raise AttributeError(name)
