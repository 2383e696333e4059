"""Bounded input before parsing: body-size limits per kind of route, and strict JSON checked before the app.

`BodyLimits` is ASGI middleware in front of everything else. For each request it picks the limit of
its route class (`route_limit`), answers 413 at once when ``Content-Length`` is over it, and otherwise
reads the body itself, counting the bytes of a chunked body as they arrive and stopping at the limit.
Only then is the body handed on (replayed to the app). Requests to the API that may carry a large
body are authenticated first, so nobody without a valid key makes the server read megabytes.
JSON bodies are checked with `brevettiai.server.wire_checks.parse_json` (off the event loop when
large); a refused value is a 422 naming its path, before any endpoint runs. File uploads stream
through untouched: they have their own limit (``--max-upload``) and write to storage as they read.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brevettiai.server.errors import ApiError, error_response
from brevettiai.server.wire_checks import WireError, parse_json

KIB, MIB = 1024, 1024 * 1024
LOGIN_BODY = 16 * KIB
JSON_BODY = 1 * MIB
CHART_BODY = 4 * MIB
METRICS_BODY = 8 * MIB
# Bodies up to this size are checked on the event loop (microseconds); larger ones in a thread.
CHECK_INLINE_BYTES = 64 * KIB
# A request that may carry more than this is authenticated before its body is read.
AUTHENTICATE_FIRST_BYTES = 64 * KIB
PARSED_JSON = "brevettiai.json"  # scope key: the checked JSON value of the body, for endpoints reading it raw

_LOGIN = re.compile(r"/api/auth/token|/login")
_UPLOAD = re.compile(r"/api/files/.+|/api/archive/[^/]+(/.*)?|/datasets/[^/]+/files/.+")
_METRICS = re.compile(r"/api/jobs/[^/]+/metrics")
_CHART = re.compile(r"/api/jobs/[^/]+/charts/[^/]+")
_UNCHECKED_JSON = (_METRICS,)  # validated from its bytes by its own schema (brevettiai.server.metrics)


def route_limit(method: str, path: str) -> tuple[str, int | None]:
    """The route class of a request and its body limit in bytes (None: streamed, limited elsewhere)."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "query", 0
    if _UPLOAD.fullmatch(path) and method == "PUT":
        return "file upload", None
    if _LOGIN.fullmatch(path):
        return "login", LOGIN_BODY
    if _METRICS.fullmatch(path):
        return "metrics", METRICS_BODY
    if _CHART.fullmatch(path):
        return "chart", CHART_BODY
    return "API", JSON_BODY


def size_words(limit: int) -> str:
    """``16 KiB``, ``1 MiB``: a limit as people read it."""
    return f"{limit // MIB} MiB" if limit >= MIB and limit % MIB == 0 else f"{limit // KIB} KiB"


def too_large(kind: str, limit: int) -> ApiError:
    """The 413 of a body over the limit of its route class."""
    return ApiError(413, f"the request body is larger than the {size_words(limit)} accepted for {kind} requests")


class BodyLimits:
    """ASGI middleware: each request's body bounded, authenticated first if large, and its JSON checked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Bound, check and replay the body of an HTTP request; pass everything else on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind, limit = route_limit(scope["method"], scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive, kind, limit)
        except ApiError as exc:
            response = error_response(exc)
            if exc.status in (401, 413):  # the rest of the body is not wanted: close instead of draining it
                response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        if body is None:  # no body at all: nothing to bound
            await self.app(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive, kind: str, limit: int) -> bytes | None:
        headers = dict(scope["headers"])
        declared = content_length(headers.get(b"content-length"))
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if not chunked and not declared:
            return None
        if kind == "query":
            limit = JSON_BODY  # a GET with a body: bounded like any JSON request
        if declared is not None and declared > limit:
            raise too_large(kind, limit)
        if kind not in ("login", "metrics") and (chunked or (declared or 0) > AUTHENTICATE_FIRST_BYTES):
            await _authenticate_first(scope, headers)
        body = await receive_body(receive, kind, limit)
        if body and _is_json(headers) and not any(p.fullmatch(scope["path"]) for p in _UNCHECKED_JSON):
            scope[PARSED_JSON] = await _checked(body)
        return body


async def receive_body(receive: Receive, kind: str, limit: int) -> bytes:
    """The whole body of a request, counted as it arrives: 413 once it passes `limit`, 400 if the client leaves."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(kind, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _checked(body: bytes) -> Any:
    try:
        if len(body) > CHECK_INLINE_BYTES:
            return await run_in_threadpool(parse_json, body)
        return parse_json(body)
    except WireError as exc:
        raise ApiError(422, [exc.as_error()]) from None


async def _authenticate_first(scope: Scope, headers: dict[bytes, bytes]) -> None:
    """401 before a large body is read when the request to the API carries no valid bearer token."""
    if not scope["path"].startswith("/api/"):
        return  # web pages authenticate by login cookie, in their routes
    from brevettiai.server.auth import caller_of

    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    context = scope["app"].state.context
    await caller_of(context, token.strip() if scheme.lower() == "bearer" else None)


def content_length(value: bytes | None) -> int | None:
    """A ``Content-Length`` header's value (None when absent); 400 when it is not a number."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number") from None


def _is_json(headers: dict[bytes, bytes]) -> bool:
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return content_type in (b"", b"application/json") or content_type.endswith(b"+json")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body already read, then passes on what the server sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

