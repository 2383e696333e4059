"""The platform's web pages: log in, models (list, page, artifacts), model zoo, datasets, tags.

Server-rendered with Jinja2 (`brevettiai.server.ui.web`); a little JavaScript polls a model's
``live.json`` while it runs, draws charts with the vendored Vega-Lite, and uploads dataset files.
Every page works through the server's own functions (`jobs`, `auth`, `charts`, `metrics`, the
files API), so the rules are the REST API's. Each area has its module (``*_pages``); this one
gathers their routers.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

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

# The pages' CSS, JavaScript and vendored Vega builds; the app mounts it at STATIC_URL (/ui/static).
static_files = StaticFiles(directory=STATIC_DIR)
