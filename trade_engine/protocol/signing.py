"""The Logon signature of the native protocol (the server checks it, the client makes it)."""

from __future__ import annotations

import hashlib
import hmac


def sign(api_key: str, secret: str, ts: int, nonce: str) -> str:
    """The Logon signature: hex HMAC-SHA256(secret, "api_key\\nts\\nnonce")."""
    msg = f"{api_key}\n{ts}\n{nonce}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()
