"""``/api/models/<id>/log`` and ``PATCH /api/models/<id>`` (and the same for reports): a run's live log,
and the name, notes and tags a user changes after creating it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from brevettiai.server import job_log, runs, views
from brevettiai.server.auth import Principal, principal, require_job, require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.schemas import JobLog, JobOut, JobPatch
from brevettiai.server.wire_checks import INT64_MAX


def _routes(kind: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/{kind}s", tags=[f"{kind}s"])

    @router.get("/{job_id}/log", response_model=JobLog, summary=f"The {kind}'s log (stdout and stderr) from a byte offset")
    async def read_log(job_id: str, offset: int | None = Query(None, ge=0, le=INT64_MAX, description=(
                           "The byte to read from (`nextOffset` of the previous answer); none: the log's last 64 KiB")),
                       limit: int = Query(job_log.MAX_READ, ge=1, le=job_log.MAX_READ, description="Bytes at most"),
                       caller: Principal = Depends(principal), ctx: ServerContext = Depends(get_context)) -> Any:
        """The job's output from `offset`, for following it while it runs: ``text`` (whole UTF-8 characters),
        ``offset`` (where `text` starts), ``nextOffset`` (to ask for next), ``size`` (the log's bytes so far),
        ``active`` (the job may write more) and ``complete`` (it ended and everything was read). A user reads
        every job's log, a job key only its own job's."""
        await require_job(job_id, caller)
        return await run_in_threadpool(job_log.read_job_log, ctx, job_id, kind, offset, limit)

    @router.patch("/{job_id}", response_model=JobOut, dependencies=[Depends(require_user)],
                  summary=f"Change a {kind}'s name, notes or tags")
    def edit(job_id: str, body: JobPatch, ctx: ServerContext = Depends(get_context)) -> JobOut:
        """Only the keys given change: ``name``, ``notes`` (Markdown, up to 100,000 characters) and ``tagIds``
        (the whole list; each tag must exist). The job's info.json names the new tags."""
        return views.job(runs.edit_job(ctx, job_id, kind, body))

    return router


routers = [_routes("model"), _routes("report")]
