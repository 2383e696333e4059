"""Log in and out of the web pages (a login cookie holding a user token; login CSRF by double submit)."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from brevettiai.server import auth
from brevettiai.server.errors import ApiError
from brevettiai.server.throttle import client_address
from brevettiai.server.ui.web import (
    LOGIN_CSRF_COOKIE,
    LoginRequired,
    PageRoute,
    WebUser,
    clear_login_cookie,
    ctx_of,
    flash,
    form_with_csrf,
    render,
    safe_next,
    set_login_cookie,
    signed_in_user,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/login")
async def login_page(request: Request, next: str = "/models") -> Response:
    """The login form (with a login CSRF token in a cookie and the form); logged in already: onwards."""
    try:
        await signed_in_user(request)
        return RedirectResponse(safe_next(next), status_code=303)
    except LoginRequired:
        pass
    return _login_form(request, safe_next(next), "", None, 200)


def _login_form(request: Request, target: str, username: str, error: str | None, status: int) -> Response:
    """The login form; its CSRF token lives in a short-lived cookie beside it (double submit)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"title": "Log in", "next": target, "username": username,
                                              "error": error, "login_csrf": token}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Check the credentials with the server's login; a login cookie holding the new user token."""
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    given = str(form.get("csrf_token") or "")
    ctx = ctx_of(request)

    def again(message: str, status: int) -> Response:
        return _login_form(request, target, username, message, status)

    if not expected or not hmac.compare_digest(expected, given):
        return again("The login form expired. Please try again.", 400)
    if not username or not password:
        return again("Enter your username and password.", 400)
    try:
        address = client_address(request.client)
        token, _, _ = await request.app.state.login_throttle.check(
            username, address, lambda: auth.login(ctx.db, username, password, ctx.config.token_ttl, address))
    except ApiError as exc:
        if exc.status == 429:
            response = again(f"{str(exc.detail)[:1].upper()}{str(exc.detail)[1:]}.", 429)
            response.headers.update(exc.headers or {})
            return response
        if exc.status == 403:
            return again(f"{str(exc.detail)[:1].upper()}{str(exc.detail)[1:]}.", 403)
        return again("Wrong username or password.", 401)
    response = RedirectResponse(target, status_code=303)
    set_login_cookie(request, response, token, ctx.config.token_ttl)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, user: WebUser = Depends(signed_in_user)) -> Response:
    """Revoke the login's token and drop the cookie."""
    await form_with_csrf(request, user)
    ctx = ctx_of(request)
    await run_in_threadpool(auth.logout, ctx.db, user.token, ctx.tokens)
    response = RedirectResponse("/login", status_code=303)
    clear_login_cookie(response)
    flash(response, "You are logged out.")
    return response


@router.get("/ui")
def home(user: WebUser = Depends(signed_in_user)) -> Response:
    """The web pages' start: the models list."""
    return RedirectResponse("/models", status_code=303)

