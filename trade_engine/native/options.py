"""The native server's limits and timers (config: ``server``)."""

from __future__ import annotations

from dataclasses import dataclass

from trade_engine.protocol.frames import DEFAULT_MAX_FRAME


@dataclass(frozen=True, slots=True)
class ServerOptions:
    max_frame_bytes: int = DEFAULT_MAX_FRAME  # inbound frame body limit
    # per session: above the high-water mark subscriptions and request reading pause, and a
    # peer that does not drain below it within slow_consumer_seconds is cut off; the hard
    # limit (reachable only through results of commands already in flight) cuts at once
    outbound_high_water: int = 1 << 20
    max_outbound_bytes: int = 64 << 20
    slow_consumer_seconds: float = 5.0
    heartbeat_seconds: float = 10.0  # when the Logon asks for none
    min_heartbeat_seconds: float = 1.0
    max_heartbeat_seconds: float = 300.0
    logon_timeout_seconds: float = 10.0
    ts_window_seconds: float = 30.0
    max_inflight: int = 10_000  # commands awaiting durability per session
    # queries per session: answers held for durability, and answer bytes not yet written
    # (held + unread by the peer); beyond either a query is answered Busy
    max_queries_waiting: int = 256
    max_answer_backlog_bytes: int = 4 << 20
    # the longest one session's read chunk holds the loop before it yields (other sessions,
    # the sequencer); a request is never split, so add one request's cost (a depth query at
    # its maximum: ~0.5 ms)
    read_slice_seconds: float = 0.002
    max_subscriptions: int = 8
    max_errors: int = 100  # content errors before a session is dropped
    close_grace_seconds: float = 2.0  # time to flush a closing session before a reset
    read_chunk_bytes: int = 256 << 10
    socket_send_buffer: int = 0  # SO_SNDBUF per session; 0 = the OS default (autotuned)
