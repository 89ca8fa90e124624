"""Native-protocol Logon: HMAC signature, clock window and nonce memory."""

from __future__ import annotations

import heapq
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Final

from trade_engine.core import limits
from trade_engine.gateway.access import ROLES, CredentialLike
from trade_engine.protocol.messages import ErrorCode
from trade_engine.protocol.signing import sign

DEFAULT_WINDOW_NS: Final = 30 * 10**9
MAX_NONCE_LEN: Final = limits.NONCE.max_len


class AuthError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
        # before any hashing: the api_key ends up in the journal as an operator
        for name, value, limit in (
            ("api_key", api_key, limits.API_KEY),
            ("nonce", nonce, limits.NONCE),
            ("signature", signature, limits.SIGNATURE),
        ):
            if not limits.text_ok(value, limit):
                raise AuthError(
                    ErrorCode.AUTH_FAILED,
                    f"{name}: at most {limit.max_len} characters of {limit.charset}",
                )
        cred = self.credentials.get(api_key)
        # compute an HMAC even for an unknown key so that timing does not reveal which exist
        expected = sign(api_key, cred.secret if cred else "-", ts, nonce)
        if cred is None or not hmac.compare_digest(expected, signature.lower()):
            raise AuthError(ErrorCode.AUTH_FAILED, "unknown api key or bad signature")
        if cred.role not in ROLES:
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
