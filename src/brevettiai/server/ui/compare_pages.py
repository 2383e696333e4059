"""The compare view: 2 to 20 runs side by side (``/compare?ids=a,b,c``, or ``ids`` repeated as the models
list's checkboxes send them), and its points (``/compare/data.json``: those of ``GET /api/compare`` for the
signed-in user). The page draws the settings diff and the outputs itself; ``compare.js`` fetches the points,
draws the progress curves and the parallel coordinates, and polls the runs still running."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from brevettiai.contract.status import TERMINAL
from brevettiai.server import compare
from brevettiai.server.ui.web import PageRoute, WebUser, ctx_of, render, signed_in_user

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _shown(value: Any) -> str:
    """A setting's or metric's value as the tables show it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@router.get("/compare")
async def compare_page(request: Request, ids: list[str] | None = Query(None),
                       user: WebUser = Depends(signed_in_user)) -> Response:
    """Runs side by side: curves, settings that differ, outputs, parallel coordinates."""
    ctx = ctx_of(request)
    chosen = compare.parse_ids(ids)
    view = await run_in_threadpool(compare.summary, ctx, user.principal, chosen)
    return render(request, "compare.html", {
        "title": f"Compare {len(chosen)} runs", "section": "models", "view": view, "ids": ",".join(chosen),
        "live": [run["id"] for run in view["runs"] if run["status"] not in TERMINAL], "shown": _shown}, user=user)


@router.get("/compare/data.json")
async def compare_data(request: Request, user: WebUser = Depends(signed_in_user),
                       query: compare.CompareQuery = Depends()) -> Response:
    """The points the compare page draws: those of ``GET /api/compare`` with the same parameters (the page
    holds the rest of that answer already)."""
    answer = await run_in_threadpool(compare.points, ctx_of(request), user.principal, query)
    return compare.PointsResponse(answer, headers={"Cache-Control": "no-store"})
