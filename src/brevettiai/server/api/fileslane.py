"""A shortcut for the request a dataset upload sends most: ``PUT /api/files/<rid>/<path>``.

`FilesFastLane` is ASGI middleware that serves it without FastAPI's route matching and dependency
resolution, which cost about as much as storing a small file. It runs the check every routed request
gets (`brevettiai.server.access.enforce`, with the route it stands in for), then
`brevettiai.server.files.write`, as the route does; the route stays registered with FastAPI for the
OpenAPI description (and answers the same).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from brevettiai.server import access, auth, files
from brevettiai.server.errors import ApiError, error_response

TEMPLATE = "/api/files/{rid}/{path:path}"
_PATH = re.compile(r"/api/files/([^/]+)/(.+)")


class FilesFastLane:
    """ASGI middleware answering ``PUT /api/files/...`` directly; everything else passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a file upload, or pass the request on."""
        match = _PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "PUT" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route or self._find_route(scope["app"])
        request = Request(scope, receive)
        try:
            await access.enforce(request)
            caller = await auth.request_caller(request)
            stored = await files.write(request.app.state.context, caller, match.group(1), match.group(2),
                                       request.stream(), request.headers.get("content-length"))
            response = JSONResponse(stored.model_dump(), status_code=201)
        except ApiError as exc:
            response = error_response(exc)
        await response(scope, receive, send)

    def _find_route(self, app: Any) -> Any:
        """The app's route this lane stands in for (the access table is keyed by its path)."""
        from fastapi.routing import iter_route_contexts

        for route in iter_route_contexts(app.routes):
            if route.path == TEMPLATE and "PUT" in (route.methods or ()):
                self._route = route.original_route  # what FastAPI puts in the scope for this route
                return self._route
        raise RuntimeError(f"the app has no PUT {TEMPLATE} route")
