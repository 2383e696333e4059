"""``/api/users`` (admins), ``/api/tokens`` and ``/api/auth/password`` (every user, for itself), ``/api/audit``
(admins). The roles are in `brevettiai.server.access`; the work is `brevettiai.server.users`'."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, Depends, Query, Response

from brevettiai.server import audit, auth, security, users, views
from brevettiai.server.account_schemas import (
    AccessTokenOut,
    AuditEventOut,
    AuditPage,
    CreatedUser,
    NewAccessToken,
    PasswordChange,
    PasswordReset,
    TokenIn,
    UserChange,
    UserIn,
)
from brevettiai.server.auth import Principal, require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError
from brevettiai.server.schemas import MAX_OFFSET, UserOut

T = TypeVar("T")

router = APIRouter(tags=["users and tokens"], dependencies=[Depends(require_user)])


def checked(work: Callable[[], T]) -> T:
    """Run a change of `brevettiai.server.users`; its refusals become HTTP answers."""
    try:
        return work()
    except users.UserError as exc:
        raise ApiError(exc.status, str(exc)) from None


@router.get("/api/users", response_model=list[UserOut], summary="Every user (admins)")
def list_users(ctx: ServerContext = Depends(get_context)) -> list[UserOut]:
    """Every user, by name, with role and whether disabled."""
    return [views.user(row) for row in users.list_users(ctx.db)]


@router.post("/api/users", response_model=CreatedUser, status_code=201, summary="Add a user (admins)")
def add_user(body: UserIn, ctx: ServerContext = Depends(get_context)) -> CreatedUser:
    """A new local user; without `password` one is generated and returned in this answer only."""
    generated = None if body.password else security.new_password()
    row = checked(lambda: users.add_user(ctx.db, body.username, body.role, body.password or generated or "",
                                         body.first_name, body.last_name, body.email))
    return CreatedUser(user=views.user(row), password=generated)


@router.patch("/api/users/{user_id}", response_model=UserOut, summary="Change a user's role or disable it (admins)")
def change_user(user_id: str, body: UserChange, ctx: ServerContext = Depends(get_context)) -> UserOut:
    """Set `role` and/or `disabled`; takes effect on every server within a second (its tokens are looked up anew)."""
    row = checked(lambda: users.find_user(ctx.db, user_id))
    if body.role is not None:
        row = checked(lambda: users.set_role(ctx.db, user_id, body.role or ""))
    if body.disabled is not None:
        row = checked(lambda: users.set_disabled(ctx.db, user_id, bool(body.disabled)))
    auth.apply_revocations(ctx)
    return views.user(row)


@router.post("/api/users/{user_id}/password", response_model=CreatedUser, summary="Reset a user's password (admins)")
def reset_password(user_id: str, body: PasswordReset, ctx: ServerContext = Depends(get_context)) -> CreatedUser:
    """A new password (given, or generated and returned once); the user's sessions end."""
    generated = None if body.password else security.new_password()
    row = checked(lambda: users.reset_password(ctx.db, user_id, body.password or generated or ""))
    auth.apply_revocations(ctx)
    return CreatedUser(user=views.user(row), password=generated)


@router.post("/api/auth/password", status_code=204, summary="Change your own password")
def change_password(body: PasswordChange, caller: Principal = Depends(require_user),
                    ctx: ServerContext = Depends(get_context)) -> Response:
    """Needs the current password; the caller's other sessions end, this token stays."""
    checked(lambda: users.change_own_password(ctx.db, caller.user_id or "", body.current_password,
                                              body.new_password, keep_token=caller.token))
    auth.apply_revocations(ctx)
    return Response(status_code=204)


def token_record(row: db.AccessToken) -> AccessTokenOut:
    """A token's record (never the token)."""
    return AccessTokenOut(id=row.id, name=row.name, read_only=row.role_ceiling is not None, created=views.iso(row.created),
                          expires_at=views.iso(row.expires_at), last_used=views.iso(row.last_used),
                          state=users.token_state(row))


@router.get("/api/tokens", response_model=list[AccessTokenOut], summary="Your personal access tokens")
def list_tokens(caller: Principal = Depends(require_user), ctx: ServerContext = Depends(get_context)
                ) -> list[AccessTokenOut]:
    """The caller's tokens, newest first, with when each was last used."""
    return [token_record(row) for row in users.list_tokens(ctx.db, caller.user_id or "")]


@router.post("/api/tokens", response_model=NewAccessToken, status_code=201, summary="Create a personal access token")
def create_token(body: TokenIn, caller: Principal = Depends(require_user),
                 ctx: ServerContext = Depends(get_context)) -> NewAccessToken:
    """A token for scripts (`Authorization: Bearer bp_...`), shown in this answer only."""
    expires_in = checked(lambda: users.parse_expiry(body.expires))
    new = checked(lambda: users.create_token(ctx.db, caller.user_id or "", body.name, expires_in,
                                             read_only=body.read_only or caller.role == "viewer"))
    return NewAccessToken(**token_record(new.row).model_dump(), token=new.token)


@router.delete("/api/tokens/{token_id}", status_code=204, summary="Revoke one of your personal access tokens")
def revoke_token(token_id: str, caller: Principal = Depends(require_user),
                 ctx: ServerContext = Depends(get_context)) -> Response:
    """Revoke a token (by id or name): it stops working on every server within a second."""
    checked(lambda: users.revoke_token(ctx.db, caller.user_id or "", token_id))
    auth.apply_revocations(ctx)
    return Response(status_code=204)


@router.get("/api/audit", response_model=AuditPage, summary="The audit log, newest first (admins)")
def audit_log(offset: int = Query(0, ge=0, le=MAX_OFFSET), limit: int = Query(100, ge=1, le=1000),
              action: str | None = Query(None, max_length=64, description="Only events of this action"),
              actor: str | None = Query(None, max_length=255, description="Only events of this user name"),
              ctx: ServerContext = Depends(get_context)) -> AuditPage:
    """Sign-ins, user and token changes, starts, stops and deletions: who, when, from where, how it ended."""
    rows, total = audit.events(ctx.db, offset, limit, action, actor)
    return AuditPage(total=total, offset=offset, events=[
        AuditEventOut(id=row.id, at=views.iso(row.at), actor=row.actor, actor_id=row.actor_id, address=row.address,
                      action=row.action, target=row.target, outcome=row.outcome, detail=row.detail) for row in rows])
