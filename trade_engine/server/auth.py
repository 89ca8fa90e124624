"""Logon verification (HMAC signature, clock window, nonce memory) and command authorization."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

import msgspec

from trade_engine.core.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
    MassCancel,
    PlaceOrder,
    Withdraw,
)
from trade_engine.server.messages import ErrorCode

DEFAULT_WINDOW_NS: Final = 30 * 10**9
MAX_NONCE_LEN: Final = 128


class Role(StrEnum):
    USER = "user"  # acts for its own user_id only; no admin commands; no stream
    GATEWAY = "gateway"  # acts for any user (REST/FIX/WS gateways, wallet service); stream
    OPERATOR = "operator"  # everything, admin commands included; stream


class CredentialLike(Protocol):
    """What the server reads from a credential (config objects and ``Credential`` fit)."""

    @property
    def api_key(self) -> str: ...
    @property
    def secret(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def user_id(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Credential:
    api_key: str
    secret: str
    role: str
    user_id: int = 0


class AuthError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sign(api_key: str, secret: str, ts: int, nonce: str) -> str:
    """The Logon signature: hex HMAC-SHA256(secret, "api_key\\nts\\nnonce")."""
    msg = f"{api_key}\n{ts}\n{nonce}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class Authenticator:
    """Checks Logons against a credential mapping (read at each logon, so it may change).

    Replay protection: ``ts`` must be within ``window_ns`` of the server clock and a nonce is
    refused if the same key used it before; a nonce is remembered until its ``ts`` leaves the
    window, after which the clock check refuses a replay anyway.
    """

    def __init__(
        self,
        credentials: Mapping[str, CredentialLike],
        *,
        window_ns: int = DEFAULT_WINDOW_NS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.credentials = credentials
        self.window_ns = window_ns
        self.clock = clock
        self._seen: set[tuple[str, str]] = set()
        self._expiry: list[tuple[int, tuple[str, str]]] = []  # heap by forget time

    def verify(self, api_key: str, ts: int, nonce: str, signature: str) -> CredentialLike:
        cred = self.credentials.get(api_key)
        # compute an HMAC even for an unknown key so that timing does not reveal which exist
        expected = sign(api_key, cred.secret if cred else "-", ts, nonce)
        if cred is None or not hmac.compare_digest(expected, signature.lower()):
            raise AuthError(ErrorCode.AUTH_FAILED, "unknown api key or bad signature")
        if cred.role not in _ROLES:
            raise AuthError(ErrorCode.AUTH_FAILED, "credential has no valid role")
        now = self.clock()
        if abs(now - ts) > self.window_ns:
            raise AuthError(
                ErrorCode.STALE_TIMESTAMP,
                f"ts is {(ts - now) / 1e9:+.1f} s off the server clock "
                f"(allowed +/-{self.window_ns / 1e9:.0f} s)",
            )
        if not 1 <= len(nonce) <= MAX_NONCE_LEN:
            raise AuthError(ErrorCode.AUTH_FAILED, f"nonce must be 1..{MAX_NONCE_LEN} chars")
        self._forget(now)
        key = (api_key, nonce)
        if key in self._seen:
            raise AuthError(ErrorCode.NONCE_REUSED, "nonce already used")
        self._seen.add(key)
        heapq.heappush(self._expiry, (ts + self.window_ns, key))
        return cred

    def _forget(self, now: int) -> None:
        exp = self._expiry
        while exp and exp[0][0] < now:
            self._seen.discard(heapq.heappop(exp)[1])


_ROLES: Final = frozenset(r.value for r in Role)
_FOR_A_USER: Final = (PlaceOrder, CancelOrder, AmendOrder)
_TRANSFERS: Final = (Deposit, Withdraw)


def operator_name(cred: CredentialLike) -> str:
    name = getattr(cred, "name", "")
    return name if isinstance(name, str) and name else cred.api_key


def authorize(cred: CredentialLike, cmd: Command) -> Command:
    """The command as it will be sequenced, or AuthError.

    A ``user`` acts for its own user_id only (a MassCancel without user_id is made its own).
    ``gateway`` acts for any user and may move funds (the wallet service connects as one).
    Admin commands need ``operator``. Wherever a command records an operator, it is the
    authenticated credential's name, never what the client wrote.
    """
    role = cred.role
    t = type(cmd)
    if t in _FOR_A_USER:
        if role == Role.USER and cmd.user_id != cred.user_id:  # type: ignore[union-attr]
            raise AuthError(ErrorCode.NOT_OWNER, f"this credential acts for user {cred.user_id}")
        return cmd
    if t is MassCancel:
        assert isinstance(cmd, MassCancel)
        if role == Role.OPERATOR:
            return msgspec.structs.replace(cmd, operator=operator_name(cred))
        if cmd.operator:
            raise AuthError(ErrorCode.FORBIDDEN, "an admin mass cancel needs an operator")
        if role == Role.USER:
            if cmd.user_id == 0:
                return msgspec.structs.replace(cmd, user_id=cred.user_id)
            if cmd.user_id != cred.user_id:
                raise AuthError(
                    ErrorCode.NOT_OWNER, f"this credential acts for user {cred.user_id}"
                )
        return cmd
    if t in _TRANSFERS:
        if role == Role.USER:
            raise AuthError(ErrorCode.FORBIDDEN, f"{t.__name__} needs a gateway or operator")
        return msgspec.structs.replace(cmd, operator=operator_name(cred))
    if role != Role.OPERATOR:
        raise AuthError(ErrorCode.FORBIDDEN, f"{t.__name__} is an operator command")
    return msgspec.structs.replace(cmd, operator=operator_name(cred))
