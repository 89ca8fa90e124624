"""The neutral layer under every inbound gateway (native, REST/WebSocket, FIX).

``access``: credentials, roles, who may act for whom. ``queries``: read-only answers over the
engine state. ``port``: the sequencer as gateways see it (submit, when-durable, subscribe).
``units``: decimal strings <-> ticks, lots and asset units on a symbol's grid. ``views``: an
order's client-facing view and status, folded from the core's events. ``errors``: what they
raise, with stable kinds. Nothing below this layer imports it.
"""
