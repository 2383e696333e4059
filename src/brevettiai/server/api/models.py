"""``/api/models`` and ``/api/reports``: create, list, start, stop and delete jobs; their artifacts,
metrics and charts. Both kinds share every route but creation."""

from __future__ import annotations

import datetime
import mimetypes
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from brevettiai.server import charts, files, jobs, listing, run_filter, views
from brevettiai.server.auth import Principal, require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.errors import ApiError
from brevettiai.server.metric_reads import ReadQuery
from brevettiai.server.schemas import MAX_OFFSET, FileEntry, JobOut, MetricSeries, ModelIn, ReportIn, RunList
from brevettiai.server.storage import FileInfo, PathRejected
from brevettiai.server.wire_checks import scrub

FILTER_HELP = ("The run filter language, e.g. `settings.training.epochs > 10 and metrics.test_accuracy >= 0.8 and "
               "tag = \"vials\" and status = completed` (see docs/platform-api.md); an invalid filter is a 400 "
               "naming the position and the field, with close names suggested")
SORT_HELP = "A field to sort by, e.g. `metrics.test_accuracy desc`, `-settings.training.epochs` or `created asc`"
COLUMNS_HELP = ("Fields to return per item in `values`, separated by commas, e.g. "
                "`settings.training.epochs,metrics.test_accuracy,metrics.loss.min`")


def _shared_routes(kind: str) -> APIRouter:
    """The routes models and reports have in common, under ``/api/<kind>s``."""
    router = APIRouter(prefix=f"/api/{kind}s", tags=[f"{kind}s"], dependencies=[Depends(require_user)])

    @router.get("", response_model=RunList, summary=f"List {kind}s: filter, sort, settings and metrics as columns")
    def list_jobs(name: str | None = Query(None, description="Exactly this name"),
                  status: str | None = Query(None, description="One status, or several separated by commas"),
                  q: str | None = Query(None, description="Text the name contains (any case), or the id"),
                  filter: str = Query("", max_length=run_filter.MAX_LENGTH, description=FILTER_HELP),
                  sort: str = Query("", max_length=300, description=SORT_HELP),
                  columns: str = Query("", max_length=4000, description=COLUMNS_HELP),
                  offset: int = Query(0, ge=0, le=MAX_OFFSET), limit: int = Query(100, ge=1, le=1000),
                  ctx: ServerContext = Depends(get_context)) -> RunList:
        """Jobs of this kind matching the filter, newest first unless sorted, with the chosen columns."""
        statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
        try:
            result = listing.list_runs(ctx, kind, filter=filter, sort=sort, columns=columns, offset=offset,
                                       limit=limit, name=name, statuses=statuses, q=q or "")
        except run_filter.FilterError as exc:
            raise ApiError(400, str(exc)) from None
        page = RunList(items=[views.job(row.job) for row in result.rows], total=result.total,
                       columns=[c.label for c in result.columns], values=[scrub(row.values) for row in result.rows])
        # Serialized once here: FastAPI would validate the built model against itself again (~0.8 ms per page of 50).
        return Response(page.model_dump_json(by_alias=True), media_type="application/json")  # type: ignore[return-value]

    @router.get("/{job_id}", response_model=JobOut, summary=f"One {kind}")
    def get_job(job_id: str, ctx: ServerContext = Depends(get_context)) -> JobOut:
        """One job."""
        return views.job(jobs.read_job(ctx, job_id, kind))

    @router.post("/{job_id}/start", response_model=JobOut,
                 summary=f"Start a created {kind}: writes info.json, issues a new key, launches it")
    def start(job_id: str, launch: bool = True, ctx: ServerContext = Depends(get_context)) -> JobOut:
        """Start a created job (``launch=false``: only issue the key, the caller runs it); the answer holds its new key."""
        job, key = jobs.start_job(ctx, job_id, kind, launch=launch)
        return views.job(job, api_key=key)

    @router.post("/{job_id}/stop", response_model=JobOut, summary=f"Ask a running {kind} to stop")
    def stop(job_id: str, ctx: ServerContext = Depends(get_context)) -> JobOut:
        """Ask the job to stop."""
        return views.job(jobs.stop_job(ctx, job_id, kind))

    @router.delete("/{job_id}", status_code=204, summary=f"Delete a {kind} (stopped first) and its job dir")
    def delete(job_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
        """Delete the job (stopped first), its records and its job dir."""
        jobs.delete_job(ctx, job_id, kind)
        return Response(status_code=204)

    @router.get("/{job_id}/artifacts", response_model=list[FileEntry], summary=f"Files below the {kind}'s artifacts/")
    def artifacts(job_id: str, prefix: str = Query("", description="A folder below artifacts/"),
                  recursive: bool = False, caller: Principal = Depends(require_user),
                  ctx: ServerContext = Depends(get_context)) -> list[FileEntry]:
        """Files and folders below the job's artifacts/ (or a folder in it)."""
        jobs.read_job(ctx, job_id, kind)
        try:
            entries = files.artifact_entries(ctx, caller, job_id, prefix, recursive) or []
        except PathRejected as exc:
            raise ApiError(400, str(exc)) from None
        return [_file_entry(job_id, entry) for entry in entries]

    @router.get("/{job_id}/metrics", response_model=MetricSeries, summary=f"The {kind}'s progress metrics")
    def get_metrics(job_id: str, query: ReadQuery = Depends(), ctx: ServerContext = Depends(get_context)) -> JSONResponse:
        """The job's progress metrics by name: each series point for point, or in min/max step buckets
        when it has more than `max_points` points; `after` a `cursor` for only the new points."""
        jobs.read_job(ctx, job_id, kind)
        # Answered as is: validating every point of a long series against the model costs more than the query.
        return JSONResponse(query.read(ctx.db, job_id))

    @router.get("/{job_id}/charts", summary=f"The {kind}'s Vega-Lite charts by name")
    def get_charts(job_id: str, ctx: ServerContext = Depends(get_context)) -> dict[str, Any]:
        """The job's Vega-Lite charts, by name."""
        jobs.read_job(ctx, job_id, kind)
        return charts.load(ctx, job_id)

    return router


def _file_entry(job_id: str, entry: FileInfo) -> FileEntry:
    relative = entry.path[len(files.ARTIFACTS) + 1:]
    folder = entry.type == "directory"
    mime = "folder" if folder else (mimetypes.guess_type(entry.path)[0] or "application/octet-stream")
    last_modified = None
    if entry.mtime is not None:
        last_modified = views.iso(datetime.datetime.fromtimestamp(entry.mtime, datetime.UTC).replace(tzinfo=None))
    return FileEntry(name=relative + ("/" if folder else ""), link=f"/api/files/{job_id}/{entry.path}",
                     size=None if folder else entry.size, mime_type=mime, is_prefix=folder, last_modified=last_modified)


creation = APIRouter(dependencies=[Depends(require_user)])


@creation.post("/api/models", response_model=JobOut, status_code=201, tags=["models"],
               summary="Create a model; the answer holds its job key (shown once)")
def create_model(body: ModelIn, ctx: ServerContext = Depends(get_context)) -> JobOut:
    """A new model; settings are checked against its model type's form (422 naming each field)."""
    job, key = jobs.create_job(ctx, "model", body)
    return views.job(job, api_key=key)


@creation.post("/api/reports", response_model=JobOut, status_code=201, tags=["reports"],
               summary="Create a report on a model; the answer holds its job key (shown once)")
def create_report(body: ReportIn, ctx: ServerContext = Depends(get_context)) -> JobOut:
    """A new report of model ``parentId``; settings are checked as for models."""
    job, key = jobs.create_job(ctx, "report", body)
    return views.job(job, api_key=key)


routers = [creation, _shared_routes("model"), _shared_routes("report")]
