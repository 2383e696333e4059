"""``/api/auth``: log in for a user token, who am I, log out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from brevettiai.server import auth, users, views
from brevettiai.server.auth import Principal, require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.errors import ApiError
from brevettiai.server.schemas import Login, TokenOut, UserOut
from brevettiai.server.throttle import client_address

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, summary="Log in: a user token for a username and password")
async def token(body: Login, request: Request, ctx: ServerContext = Depends(get_context)) -> TokenOut:
    """A new user token; 401 for wrong credentials, 429 after too many (see brevettiai.server.throttle)."""
    # scrypt takes tens of milliseconds: off the event loop, and only a few at a time.
    address = client_address(request.client)
    value, expires, user = await request.app.state.login_throttle.check(
        body.username, address, lambda: auth.login(ctx.db, body.username, body.password, ctx.config.token_ttl, address))
    return TokenOut(access_token=value, expires_at=views.iso(expires), user=views.user(user))


@router.get("/me", response_model=UserOut, summary="The logged-in user")
def me(caller: Principal = Depends(require_user), ctx: ServerContext = Depends(get_context)) -> UserOut:
    """The user the token belongs to."""
    user = users.user_by_id(ctx.db, caller.user_id) if caller.user_id else None
    if user is None:
        raise ApiError(401, "the token's user no longer exists")
    return views.user(user)


@router.post("/logout", status_code=204, summary="Revoke the token of this request")
def logout(caller: Principal = Depends(require_user), ctx: ServerContext = Depends(get_context)) -> Response:
    """Revoke the user token the request was sent with."""
    auth.logout(ctx.db, caller.token, ctx.tokens)
    return Response(status_code=204)
