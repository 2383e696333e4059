"""What the page modules share: page sizes, the kinds of job, query strings, files served inertly, the options of the forms."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from brevettiai.contract.status import JOB_STATUSES
from brevettiai.server import datasets, files, tags, views
from brevettiai.server.auth import Principal
from brevettiai.server.context import ServerContext
from brevettiai.server.ui.web import (
    ctx_of,
)

PAGE_SIZE = 50
FILES_PAGE_SIZE = 200
STATUSES = JOB_STATUSES
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".avif")
KINDS = {"model": "/models", "report": "/testreports"}
KIND_WORDS = {"model": ("model", "Models", "models"), "report": ("test report", "Test reports", "testreports")}

# Files downloaded or shown through the pages never run as documents of the platform.
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def query_string(**params: Any) -> str:
    """A query string of the parameters that say something (no empty ones, no first page)."""
    kept = {k: v for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)}
    return ("?" + urllib.parse.urlencode(kept)) if kept else ""

def serve_file(request: Request, rid: str, path: str, caller: Principal, attachment: bool,
                csp: str = FILE_CSP) -> Response:
    """A stored file through the files service's reader (ETag, Range), with headers that keep it inert."""
    response = files.read(ctx_of(request), caller, rid, path, request.headers)
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    if attachment:
        name = path.rsplit("/", 1)[-1]
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        response.headers["Content-Disposition"] = (f'attachment; filename="{ascii_name}"; '
                                                   f"filename*=UTF-8''{urllib.parse.quote(name)}")
    return response


def tag_options(ctx: ServerContext) -> list[tuple[str, str, int]]:
    """Every tag as (id, name, depth), in tree order."""
    forest = views.tag_forest(tags.all_tags(ctx))
    found: list[tuple[str, str, int]] = []

    def walk(items: Iterable[Any], depth: int) -> None:
        for tag in items:
            found.append((tag.id, tag.name, depth))
            walk(tag.children, depth + 1)

    walk(forest, 0)
    return found


def dataset_options(ctx: ServerContext, limit: int = 500) -> list[Any]:
    """(id, name, created) of the newest datasets."""
    return datasets.options(ctx, limit)

