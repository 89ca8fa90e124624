"""Exceptions raised by the client; the server's codes are ``protocol.messages.ErrorCode``."""

from __future__ import annotations


class ClientError(Exception):
    """Base of everything the client raises on purpose."""


class ServerError(ClientError):
    """The server answered with an Error frame."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: int | None = None,
        fatal: bool = False,
        field: str = "",
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.fatal = fatal
        self.field = field  # INVALID_FIELD: the command field refused, e.g. "Deposit.amount"


class LogonError(ServerError):
    """The Logon was refused (bad key or signature, stale ts, reused nonce, version)."""


class BusyError(ClientError):
    """The engine's inbound queue is full: the command was not sequenced; back off, retry."""

    def __init__(self, request_id: int) -> None:
        super().__init__(f"engine busy (request {request_id})")
        self.request_id = request_id


class ConnectionLost(ClientError):
    """The connection ended; ``code`` is the server's reason when it gave one.

    Requests in flight may or may not have been sequenced: resubmit with the same
    client_order_id / transfer_id (both idempotent) or query.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.code = code
