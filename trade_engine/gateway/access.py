"""Who may do what: credentials, roles, and the acting-for-a-user rules of every gateway.

Gateway-neutral: the native server, the REST/WebSocket and the FIX gateways all authorize a
command here before it is sequenced, and raise ``AccessError`` for their own wire to render.
"""

from __future__ import annotations

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
from trade_engine.gateway.errors import AccessError, ErrorKind


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


ROLES: Final = frozenset(r.value for r in Role)
_FOR_A_USER: Final = (PlaceOrder, CancelOrder, AmendOrder)
_TRANSFERS: Final = (Deposit, Withdraw)


def operator_name(cred: CredentialLike) -> str:
    name = getattr(cred, "name", "")
    return name if isinstance(name, str) and name else cred.api_key


def authorize(cred: CredentialLike, cmd: Command) -> Command:
    """The command as it will be sequenced, or AccessError.

    A ``user`` acts for its own user_id only (a MassCancel without user_id is made its own).
    ``gateway`` acts for any user and may move funds (the wallet service connects as one).
    Admin commands need ``operator``. Wherever a command records an operator, it is the
    authenticated credential's name, never what the client wrote.
    """
    role = cred.role
    t = type(cmd)
    if t in _FOR_A_USER:
        if role == Role.USER and cmd.user_id != cred.user_id:  # type: ignore[union-attr]
            raise AccessError(ErrorKind.NOT_OWNER, f"this credential acts for user {cred.user_id}")
        return cmd
    if t is MassCancel:
        assert isinstance(cmd, MassCancel)
        if role == Role.OPERATOR:
            return msgspec.structs.replace(cmd, operator=operator_name(cred))
        if cmd.operator:
            raise AccessError(ErrorKind.FORBIDDEN, "an admin mass cancel needs an operator")
        if role == Role.USER:
            if cmd.user_id == 0:
                return msgspec.structs.replace(cmd, user_id=cred.user_id)
            if cmd.user_id != cred.user_id:
                raise AccessError(
                    ErrorKind.NOT_OWNER, f"this credential acts for user {cred.user_id}"
                )
        return cmd
    if t in _TRANSFERS:
        if role == Role.USER:
            raise AccessError(ErrorKind.FORBIDDEN, f"{t.__name__} needs a gateway or operator")
        return msgspec.structs.replace(cmd, operator=operator_name(cred))
    if role != Role.OPERATOR:
        raise AccessError(ErrorKind.FORBIDDEN, f"{t.__name__} is an operator command")
    return msgspec.structs.replace(cmd, operator=operator_name(cred))
