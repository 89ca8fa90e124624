"""native.logon: logon verification (signature, timestamp window, nonce memory)."""

from __future__ import annotations

import pytest

from trade_engine.gateway.access import Credential
from trade_engine.native.logon import Authenticator, AuthError
from trade_engine.protocol.messages import ErrorCode
from trade_engine.protocol.signing import sign


def test_authenticator_window_and_nonce_memory() -> None:
    now = [1_000 * 10**9]
    cred = Credential("k", "secret", "user", 5)
    auth = Authenticator({"k": cred}, window_ns=30 * 10**9, clock=lambda: now[0])

    def logon(ts: int, nonce: str, secret: str = "secret") -> None:
        auth.verify("k", ts, nonce, sign("k", secret, ts, nonce))

    logon(now[0], "a")
    with pytest.raises(AuthError) as ei:
        logon(now[0], "a")
    assert ei.value.code == ErrorCode.NONCE_REUSED
    with pytest.raises(AuthError) as ei:
        logon(now[0] - 31 * 10**9, "b")
    assert ei.value.code == ErrorCode.STALE_TIMESTAMP
    with pytest.raises(AuthError) as ei:
        logon(now[0], "c", secret="guess")
    assert ei.value.code == ErrorCode.AUTH_FAILED
    with pytest.raises(AuthError) as ei:
        auth.verify("k", now[0], "d", sign("k", "secret", now[0], "d").upper() + "0")
    assert ei.value.code == ErrorCode.AUTH_FAILED
    # a nonce is forgotten once its ts is out of the window; replaying it is stale anyway
    first = now[0]
    now[0] += 31 * 10**9
    logon(now[0], "e")
    assert ("k", "a") not in auth._seen
    with pytest.raises(AuthError) as ei:
        logon(first, "a")
    assert ei.value.code == ErrorCode.STALE_TIMESTAMP
    # upper-case hex is accepted
    auth.verify("k", now[0], "f", sign("k", "secret", now[0], "f").upper())
