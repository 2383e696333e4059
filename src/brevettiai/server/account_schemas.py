"""The records of the users, access tokens and audit log endpoints (camelCase on the wire)."""

from __future__ import annotations

from pydantic import Field

from brevettiai.server.roles import MEMBER
from brevettiai.server.schemas import MAX_OFFSET, UserOut, Wire


class UserIn(Wire):
    """A new user; without a password one is generated and returned once."""

    username: str = Field(max_length=150)
    role: str = MEMBER
    password: str | None = Field(None, max_length=256)
    first_name: str = Field("", max_length=255)
    last_name: str = Field("", max_length=255)
    email: str = Field("", max_length=255)


class UserChange(Wire):
    """What to change about a user (what is left out stays)."""

    role: str | None = None
    disabled: bool | None = None


class PasswordReset(Wire):
    """An admin's new password for a user; without one a password is generated and returned once."""

    password: str | None = Field(None, max_length=256)


class PasswordChange(Wire):
    """A user's change of its own password."""

    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class CreatedUser(Wire):
    """A created user, and the generated password if none was given (shown this once)."""

    user: UserOut
    password: str | None = None


class TokenIn(Wire):
    """A new personal access token: a name, how long it lasts (``90d``, ``12h``), read-only or not."""

    name: str = Field(max_length=100)
    expires: str = Field("90d", max_length=16)
    read_only: bool = False


class AccessTokenOut(Wire):
    """A personal access token (never the token itself but in `NewAccessToken`)."""

    id: str
    name: str
    read_only: bool
    created: str | None
    expires_at: str | None
    last_used: str | None
    state: str  # active, expired or revoked


class NewAccessToken(AccessTokenOut):
    """A created token: `token` is shown this once."""

    token: str


class AuditEventOut(Wire):
    """One event of the audit log."""

    id: int
    at: str | None
    actor: str
    actor_id: str | None
    address: str
    action: str
    target: str
    outcome: str
    detail: str


class AuditPage(Wire):
    """A page of the audit log, newest first."""

    total: int
    offset: int
    events: list[AuditEventOut]


MAX_AUDIT_OFFSET = MAX_OFFSET
