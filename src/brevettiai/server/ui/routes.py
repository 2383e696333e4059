"""The platform's web pages: log in, models (list, page, artifacts), model zoo, datasets, tags.

Server-rendered with Jinja2 (`brevettiai.server.ui.web`); a little JavaScript polls a model's
``live.json`` while it runs, draws charts with the vendored Vega-Lite, and uploads dataset files.
Every page works through the server's own functions (`jobs`, `auth`, `charts`, `metrics`, the
files API), so the rules are the REST API's. Each area has its module (``*_pages``); this one
gathers their routers.
"""

from __future__ import annotations

import os
from os import PathLike

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from brevettiai.server.ui import (
    admin_pages,
    auth_pages,
    compare_pages,
    dataset_pages,
    job_pages,
    profile_pages,
    run_pages,
    tag_pages,
    zoo_pages,
)
from brevettiai.server.ui.web import STATIC_DIR, PageRoute

__all__ = ["STATIC_DIR", "router", "static_files"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
for _area in (auth_pages, job_pages, run_pages, compare_pages, zoo_pages, dataset_pages, tag_pages, profile_pages,
              admin_pages):
    router.include_router(_area.router)

class VersionedStaticFiles(StaticFiles):
    """Static files; asked for with ``?v=<content hash>`` (as `web.static_url` writes them), an answer browsers
    keep for a year without asking again, so a page's scripts cost nothing on its next load."""

    def file_response(self, full_path: PathLike[str] | str, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


# The pages' CSS, JavaScript and vendored Vega builds; the app mounts it at STATIC_URL (/ui/static).
static_files = VersionedStaticFiles(directory=STATIC_DIR)
