"""The profile page: change your own password, and create, list and revoke your personal access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from brevettiai.server import auth, users
from brevettiai.server.ui.web import PageRoute, WebUser, ctx_of, flash, form_with_csrf, render, signed_in_user

router = APIRouter(route_class=PageRoute, include_in_schema=False)

EXPIRY_CHOICES = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("366d", "1 year"))


def _profile(request: Request, user: WebUser, status: int = 200, **extra: Any) -> Response:
    ctx = ctx_of(request)
    tokens = users.list_tokens(ctx.db, user.principal.user_id or "")
    values = {"title": "Your profile", "section": "profile", "tokens": tokens, "state": users.token_state,
              "expiry_choices": EXPIRY_CHOICES, "new_token": None, "password_error": None, "token_error": None,
              "token_name": ""}
    values.update(extra)
    return render(request, "profile.html", values, status=status, user=user)


@router.get("/profile")
def profile_page(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """Who you are, your password, your access tokens."""
    return _profile(request, user)


@router.post("/profile/password")
async def change_password(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """Change your own password (the current one is needed); your other sessions end."""
    form = await form_with_csrf(request, user)
    current, new, again = (str(form.get(name) or "") for name in ("current_password", "new_password", "confirm_password"))
    if new != again:
        return _profile(request, user, 400, password_error="The new password and its repetition differ.")
    ctx = ctx_of(request)
    try:
        await run_in_threadpool(users.change_own_password, ctx.db, user.principal.user_id or "", current, new, user.token)
    except users.UserError as exc:
        return _profile(request, user, exc.status, password_error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    await run_in_threadpool(auth.apply_revocations, ctx)
    response = RedirectResponse("/profile", status_code=303)
    flash(response, "Your password is changed; your other sessions have ended.")
    return response


@router.post("/profile/tokens")
async def create_token(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """A new personal access token, shown on the page this answer is (and never again)."""
    form = await form_with_csrf(request, user)
    name = str(form.get("name") or "").strip()
    read_only = form.get("read_only") == "on" or user.role == "viewer"
    ctx = ctx_of(request)
    try:
        expires_in = users.parse_expiry(str(form.get("expires") or "90d"))
        new = await run_in_threadpool(users.create_token, ctx.db, user.principal.user_id or "", name, expires_in,
                                      read_only)
    except users.UserError as exc:
        return _profile(request, user, 400, token_error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.", token_name=name)
    return _profile(request, user, 201, new_token=new)


@router.post("/profile/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str, user: WebUser = Depends(signed_in_user)) -> Response:
    """Revoke one of your tokens."""
    await form_with_csrf(request, user)
    ctx = ctx_of(request)
    try:
        row = await run_in_threadpool(users.revoke_token, ctx.db, user.principal.user_id or "", token_id)
    except users.UserError as exc:
        return _profile(request, user, exc.status, token_error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    await run_in_threadpool(auth.apply_revocations, ctx)
    response = RedirectResponse("/profile", status_code=303)
    flash(response, f"Revoked the token “{row.name}”.")
    return response
