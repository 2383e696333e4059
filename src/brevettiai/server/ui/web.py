"""What every page needs: the login cookie, CSRF tokens, templates, security headers and error pages.

Signing in gives the browser a login cookie holding a user token issued by the server's own login
(`brevettiai.server.auth.login`), so it expires and is revoked like any token. The REST API never
reads the cookie (it takes ``Authorization: Bearer`` only), so a page's cookie cannot be used to call
the API from elsewhere. Forms and the upload requests carry a CSRF token derived from the login
token (``csrf_token`` field or ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from brevettiai._version import __version__
from brevettiai.errors import ServerError
from brevettiai.server import access, auth, security, users
from brevettiai.server.auth import Principal
from brevettiai.server.context import ServerContext
from brevettiai.server.errors import ApiError
from brevettiai.server.storage import PathRejected

log = logging.getLogger("brevettiai.server.ui")

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_URL = "/ui/static"

LOGIN_COOKIE = "brevettiai_session"
LOGIN_CSRF_COOKIE = "brevettiai_login_csrf"
FLASH_COOKIE = "brevettiai_flash"
CSRF_HEADER = "x-csrf-token"

# The pages' own policy: every script, style, image and request stays on the platform.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "font-src 'self'; connect-src 'self'; frame-src 'self'; worker-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


# Errors -----------------------------------------------------------------------------------------------

class LoginRequired(ServerError):
    """The request has no valid login cookie: pages redirect to the login page, JSON endpoints answer 401."""


class PageError(ServerError):
    """A page that cannot be shown: its status and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Signed-in user ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebUser:
    """The person behind a page request."""

    principal: Principal
    username: str
    display_name: str
    token: str

    @property
    def role(self) -> str:
        """The user's role (viewer, member or admin): what the nav and the pages offer."""
        return self.principal.role

    @property
    def csrf(self) -> str:
        """The CSRF token of this login (forms and upload requests send it back)."""
        return csrf_for(self.token)


def csrf_for(login_token: str) -> str:
    """The CSRF token of a login: derived from its token, so nothing needs storing and it dies with it."""
    return hashlib.sha256(b"brevettiai-ui-csrf:" + login_token.encode()).hexdigest()


def ctx_of(request: Request) -> ServerContext:
    """The server context of the app serving the request."""
    return request.app.state.context


async def signed_in_user(request: Request) -> WebUser:
    """The logged-in user of a page request; `LoginRequired` without a valid login cookie."""
    cached = request.scope.get("brevettiai.web_user")
    if cached is not None:
        return cached
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not token.startswith(security.USER_TOKEN_PREFIX):
        raise LoginRequired()
    ctx = ctx_of(request)
    try:
        caller = await auth.caller_of(ctx, token)
    except ApiError:
        raise LoginRequired() from None
    if not caller.is_user or caller.user_id is None:
        raise LoginRequired()
    row = await run_in_threadpool(users.user_by_id, ctx.db, caller.user_id)
    if row is None:
        raise LoginRequired()
    name = " ".join(part for part in (row.first_name, row.last_name) if part) or row.username
    user = WebUser(principal=caller, username=row.username, display_name=name, token=token)
    request.scope["brevettiai.web_user"] = user
    return user


def check_csrf(user: WebUser, given: str | None) -> None:
    """403 unless `given` is the login's CSRF token."""
    if not given or not hmac.compare_digest(given, user.csrf):
        raise PageError(403, "The form is out of date or did not come from this site (CSRF check failed). "
                             "Go back, reload the page and try again.")


async def form_with_csrf(request: Request, user: WebUser) -> Any:
    """The posted form, after its CSRF token is checked."""
    form = await request.form()
    check_csrf(user, str(form.get("csrf_token") or ""))
    return form


def check_csrf_header(request: Request, user: WebUser) -> None:
    """For script requests (uploads): the CSRF token in the ``X-CSRF-Token`` header."""
    check_csrf(user, request.headers.get(CSRF_HEADER))


def set_login_cookie(request: Request, response: Response, token: str, ttl: float) -> None:
    """The login cookie: HttpOnly, SameSite=Lax, Secure on HTTPS, as long-lived as the token."""
    response.set_cookie(LOGIN_COOKIE, token, max_age=int(ttl), path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def clear_login_cookie(response: Response) -> None:
    """Remove the login cookie."""
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="lax")


def safe_next(target: str | None, default: str = "/models") -> str:
    """A local path to go to after logging in; anything that could leave the site gives `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parsed = urllib.parse.urlsplit(target)
    if parsed.scheme or parsed.netloc:
        return default
    return target


# Flash messages (one short notice shown on the next page) -------------------------------------------------

def flash(response: Response, message: str) -> None:
    """Show `message` once on the next page this browser opens."""
    response.set_cookie(FLASH_COOKIE, urllib.parse.quote(message[:300]), max_age=60, path="/", httponly=True,
                        samesite="lax")


def take_flash(request: Request) -> str | None:
    """The pending flash message, if any (the page that shows it clears it)."""
    raw = request.cookies.get(FLASH_COOKIE)
    return urllib.parse.unquote(raw) if raw else None


# Report tickets: capability URLs for the sandboxed report route --------------------------------------------

def report_ticket(ctx: ServerContext, job_id: str, ttl: float | None = None) -> str:
    """A ticket letting its holder read one job's artifacts through ``/reports/<job>/<ticket>/...``."""
    expires = int(time.time() + (ttl or ctx.config.token_ttl))
    mac = hmac.new(ctx.secret_key, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]
    return f"{expires}-{mac}"


def check_ticket(ctx: ServerContext, job_id: str, ticket: str) -> bool:
    """True when the ticket was issued for this job and has not expired."""
    expires, _, mac = ticket.partition("-")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    expected = hmac.new(ctx.secret_key, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]
    return hmac.compare_digest(mac, expected)


# Templates ------------------------------------------------------------------------------------------------

def can(user: WebUser | None, method: str, path: str) -> bool:
    """True when the signed-in user's role (narrowed by its token) allows the route: pages draw a control only then."""
    return user is not None and access.allows(user.role, method, path)


def _filesize(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _when(moment: datetime.datetime | None) -> str:
    """A stored moment (naive, in UTC) as the pages show it: with its zone, so no one reads it as local time."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _moment(seconds: float | None) -> datetime.datetime | None:
    """Epoch seconds as a stored moment (naive, in UTC)."""
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(tzinfo=None)


def _iso(moment: datetime.datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds") + "Z"


def _duration(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0, int((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="/")


environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                 autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                                 trim_blocks=True, lstrip_blocks=True)
@functools.cache
def static_url(path: str) -> str:
    """The URL of a static file with its content's hash in the query: browsers may keep it for good
    (`VersionedStaticFiles`), and an edited file gets a new URL."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
    return f"{STATIC_URL}/{path}?v={digest}"


environment.filters.update(filesize=_filesize, when=_when, iso=_iso, urlpath=_quote, moment=_moment)
environment.globals.update(duration=_duration, can=can, static=static_url,
                           version=__version__)


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200,
           user: WebUser | None = None) -> HTMLResponse:
    """A page: the template with the user, CSRF token and flash message, and the pages' security headers."""
    values: dict[str, Any] = {"request": request, "user": user, "csrf": user.csrf if user else "",
                              "flash": take_flash(request), "path": request.url.path, "title": "",
                              "section": ""}
    values.update(context or {})
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    if values["flash"]:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# Route class: friendly pages for errors ----------------------------------------------------------------------

class PageRoute(APIRoute):
    """Routes of the web pages: no login sends the browser to the login page; errors are HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        wants_json = self.path.endswith(".json") or "PUT" in (self.methods or set())

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                if wants_json:
                    return Response('{"detail": "not logged in"}', status_code=401, media_type="application/json")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), status_code=303)
            except (PageError, ApiError, PathRejected) as exc:
                status, message = _error_of(exc)
                if wants_json:
                    import json

                    return Response(json.dumps({"detail": message}), status_code=status,
                                    media_type="application/json")
                user = request.scope.get("brevettiai.web_user")
                return render(request, "error.html", {"title": f"Error {status}", "status": status,
                                                      "message": message}, status=status, user=user)

        return handle


def _error_of(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, PageError):
        return exc.status, exc.message
    if isinstance(exc, PathRejected):
        return 400, str(exc)
    assert isinstance(exc, ApiError)
    if isinstance(exc.detail, str):
        return exc.status, exc.detail[:1].upper() + exc.detail[1:]
    return exc.status, "; ".join(str(item.get("msg", item)) for item in exc.detail)
