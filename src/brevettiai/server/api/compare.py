"""``GET /api/compare``: several runs side by side (settings that differ, outputs, progress series)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from brevettiai.server import compare
from brevettiai.server.auth import Principal, principal
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.schemas import Wire

router = APIRouter(tags=["models"])


class CompareRun(Wire):
    """One compared run."""

    id: str
    name: str
    label: str = Field(description="What the compare view calls it: its name, with its id when names repeat")
    kind: str = Field(description="model or report")
    status: str
    model_type: dict[str, str] | None = Field(None, description="{id, name} of its model type")
    created: str | None = None
    started: str | None = None
    completed: str | None = None
    link: str = Field(description="Its page")


class CompareRow(Wire):
    """A setting or metric across the runs: one value per run, in the order of `runs` (null: none)."""

    name: str | None = Field(None, description="The output metric or series name")
    path: str | None = Field(None, description="The setting's dotted path")
    label: str | None = Field(None, description="The setting's title from its model type's form, with its groups'")
    values: list[Any]
    numeric: bool | None = Field(None, description="Every value present is a number (settings)")


class CompareOut(Wire):
    """Runs side by side."""

    runs: list[CompareRun]
    settings: list[CompareRow] = Field(description="Only the settings whose effective values differ (a missing "
                                                   "setting reads as its form's default)")
    same_settings: int = Field(description="How many settings are the same in every run")
    outputs: list[CompareRow] = Field(description="The output metrics of output.json, by name")
    metrics: list[str] = Field(description="Every progress series name (of any run)")
    last_values: list[CompareRow] = Field(description="Each series' value at its highest step, per run")
    series: dict[str, dict[str, list[list[float | None]]]] = Field(
        description="run id -> name -> [[step, value, time], ...], as `GET /api/models/<id>/metrics`")
    counts: dict[str, dict[str, int]] = Field(description="run id -> name -> points in the range read")
    bucket_steps: dict[str, dict[str, int]] = Field(description="run id -> name -> steps per bucket (1: every point)")
    cursors: dict[str, int | None] = Field(description="run id -> the newest stored point read: poll the run's "
                                                       "metrics with `after=<cursor>` for what came since")


@router.get("/api/compare", response_model=CompareOut,
            summary=f"Compare {compare.MIN_RUNS} to {compare.MAX_RUNS} runs: settings diff, outputs, progress")
async def compare_runs(query: compare.CompareQuery = Depends(), caller: Principal = Depends(principal),
                       ctx: ServerContext = Depends(get_context)) -> JSONResponse:
    """The runs `ids` side by side: the settings that differ (labelled from each model type's form), the
    output metrics, the last value and the downsampled points of every progress series. A user may compare
    any runs; a job key only those it may read (its own run and a test report's model)."""
    # Answered as is: validating every point against the model costs more than the reads.
    return compare.PointsResponse(await run_in_threadpool(compare.compare, ctx, caller, query))
