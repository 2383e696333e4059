"""A shortcut for the request a running job sends most often: ``POST /api/jobs/<id>/metrics``.

`JobFastLane` wraps the whole app at the server's edge (`brevettiai.server.serve`) and answers metrics
batches itself, before FastAPI's own layers (error and telemetry middleware, body limits, routing,
dependencies): for a one-point batch those cost more than the rest of the request. It does what they
would do for it: the body bounded like `brevettiai.server.limits.BodyLimits` does (413, named),
the caller authenticated (`brevettiai.server.auth.job_caller`, with the route's access rule for user
tokens), refusals answered as ``{"detail": ...}``, anything unexpected logged and answered 500. The
route stays registered with FastAPI for the OpenAPI description (and serves the app without this lane).
Everything else, heartbeats included, passes on unchanged.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from brevettiai.server.api.jobs import store_metrics
from brevettiai.server.auth import job_caller
from brevettiai.server.errors import ApiError, error_response
from brevettiai.server.limits import METRICS_BODY, content_length, receive_body, too_large

log = logging.getLogger("brevettiai.server.fastlane")

_PATH = re.compile(r"/api/jobs/([^/]+)/metrics")
_JSON = (b"content-type", b"application/json")


class JobFastLane:
    """ASGI app answering metrics POSTs directly and passing everything else to `app`.

    `platform` is the FastAPI app behind `app` (possibly wrapped), whose state holds the server context.
    """

    def __init__(self, app: ASGIApp, platform: Starlette) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a metrics POST, or pass the request on."""
        match = _PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        try:
            accepted = await self._metrics(match.group(1), scope, receive)
        except ApiError as exc:
            response = error_response(exc)
            if exc.status == 413:  # the rest of the body is not wanted: close instead of draining it
                response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        except Exception as exc:
            log.exception("POST %s failed", scope["path"])
            response = error_response(ApiError(500, f"internal server error: {type(exc).__name__}"))
            await response(scope, receive, send)
            return
        body = b'{"accepted":%d}' % accepted
        await send({"type": "http.response.start", "status": 200,
                    "headers": [_JSON, (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    async def _metrics(self, job_id: str, scope: Scope, receive: Receive) -> int:
        """Read, authorise and store one metrics batch; the number of points accepted."""
        headers = dict(scope["headers"])
        declared = content_length(headers.get(b"content-length"))
        if declared is not None and declared > METRICS_BODY:
            raise too_large("metrics", METRICS_BODY)
        body = await receive_body(receive, "metrics", METRICS_BODY)
        ctx = self.platform.state.context
        await job_caller(ctx, job_id, headers.get(b"authorization", b"").decode("latin-1"), "POST", scope["path"],
                         write=True)
        return await store_metrics(ctx, job_id, headers.get(b"content-type", b"").decode("latin-1"), body)
