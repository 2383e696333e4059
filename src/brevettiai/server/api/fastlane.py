"""A shortcut for the two requests a running job sends most often: metrics batches and heartbeats.

`JobFastLane` is ASGI middleware that hands ``POST /api/jobs/<id>/metrics`` and ``.../heartbeat``
straight to their endpoint functions in `brevettiai.server.api.jobs`, skipping FastAPI's route
matching and dependency resolution, which cost more than the rest of such a request. The endpoints
authenticate themselves (`brevettiai.server.auth.job_request`), so access rules are the same; the
routes stay registered with FastAPI for the OpenAPI description.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from brevettiai.server.api.jobs import heartbeat, post_metrics
from brevettiai.server.errors import ApiError, error_response

_ENDPOINTS = {"metrics": post_metrics, "heartbeat": heartbeat}
_PATH = re.compile(r"/api/jobs/([^/]+)/(metrics|heartbeat)")


class JobFastLane:
    """ASGI middleware answering metrics and heartbeat POSTs directly; everything else passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a metrics or heartbeat POST, or pass the request on."""
        match = _PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await _ENDPOINTS[match.group(2)](match.group(1), Request(scope, receive))
        except ApiError as exc:
            response = error_response(exc)
        await response(scope, receive, send)
