"""``/api/jobs/<id>/...``: what a running job says to the platform, with its job key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from brevettiai.server import charts, jobs, metrics, run_summary, tags, views
from brevettiai.server.auth import ENDED, job_request, require_job, require_live_job
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.errors import invalid
from brevettiai.server.limits import PARSED_JSON
from brevettiai.server.schemas import (
    Accepted,
    ClaimIn,
    ClaimOut,
    HeartbeatOut,
    JobOut,
    MetricsIn,
    RunExitIn,
    StateIn,
    TagOut,
    inline_schema,
)
from brevettiai.server.wire_checks import WireError, parse_json

router = APIRouter(prefix="/api/jobs/{job_id}", tags=["job side"], dependencies=[Depends(require_job)])
# The endpoints a running job calls most often authenticate inline (`job_request`), without FastAPI's
# dependencies. Metrics batches are served by `brevettiai.server.api.fastlane.JobFastLane` in front of the
# whole app; the route below is for the OpenAPI description and for the app without that lane.
frequent = APIRouter(prefix="/api/jobs/{job_id}", tags=["job side"])
_BEARER: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
PARSE_INLINE_BYTES = 32 * 1024


@router.get("/info", summary="The job's info.json")
def info(job_id: str, ctx: ServerContext = Depends(get_context)) -> dict[str, Any]:
    """What the job needs to run: settings, datasets, tags, endpoints (never its key)."""
    return jobs.read_info(ctx, job_id)


@router.post("/state", response_model=JobOut, summary="Report running, completed, failed or killed")
def state(job_id: str, body: StateIn, ctx: ServerContext = Depends(get_context)) -> JobOut:
    """A state change; completed, failed and killed are final (a different state after them is a 409)."""
    job = jobs.report_state(ctx, job_id, body)
    if job.status in ENDED:
        ctx.tokens.forget_job(job_id)  # its key stops authorising writes now, not when the cache ages out
        run_summary.record_outputs(ctx, job_id)  # its output.json's metrics, for the runs table
    return views.job(job)


@router.post("/claim", response_model=ClaimOut, summary="The runner's task claims its run (once)")
def claim(job_id: str, body: ClaimIn, ctx: ServerContext = Depends(get_context)) -> ClaimOut:
    """Before it starts the job, the task running a run claims it; a second claim of the same run (a task
    run again after its worker died) is a 409, and that task must not start the job. A claim repeated with
    the first one's `claimToken` (its answer was lost) is answered as the first."""
    return ClaimOut(claimed=True, stop_requested=jobs.claim_run(ctx, job_id, body.run_id, body.claim_token))


@router.post("/exit", response_model=JobOut, summary="The runner's task reports how the run's process ended")
def run_exit(job_id: str, body: RunExitIn, ctx: ServerContext = Depends(get_context)) -> JobOut:
    """Exit code or signal of the job's process; a job that did not report a final state itself ends failed (or
    killed when a stop was asked for). ``lost``: the worker running the run died; the job ends lost."""
    return views.job(jobs.run_exited(ctx, job_id, body.run_id, body.code, body.signal, body.lost))


@frequent.post("/heartbeat", response_model=HeartbeatOut, summary="I am alive; should I stop?", openapi_extra=_BEARER)
async def heartbeat(job_id: str, request: Request) -> JSONResponse:
    """Keep a running job from becoming lost; the answer says whether it was asked to stop."""
    ctx, _ = await job_request(request, job_id)
    status, stop = await run_in_threadpool(jobs.heartbeat, ctx, job_id)
    return JSONResponse({"status": status, "stopRequested": stop})


@frequent.post("/metrics", response_model=Accepted, summary="Store a batch of progress points (idempotent)",
               openapi_extra={**_BEARER, "requestBody": {"required": True, "content": {"application/json": {
                   "schema": inline_schema(MetricsIn)}}}})
async def post_metrics(job_id: str, request: Request) -> JSONResponse:
    """Points ``{step, time, values}``; a batch id seen before is accepted again but not stored twice."""
    ctx, _ = await job_request(request, job_id, write=True)
    body = await request.body()
    return JSONResponse({"accepted": await store_metrics(ctx, job_id, request.headers.get("content-type", ""), body)})


async def store_metrics(ctx: ServerContext, job_id: str, content_type: str, body: bytes) -> int:
    """Validate a metrics body and store its batch; how many points were accepted (once stored).

    The hot path of a training job (`brevettiai.server.api.fastlane` calls it for an authorised
    request): the body is validated straight from its bytes and the batch handed to the metrics
    writer, without model objects or a thread of its own.
    """
    parse = metrics.parse_columns if content_type.startswith(metrics.COLUMNS_CONTENT_TYPE) else metrics.parse_batch
    points: metrics.Points
    if len(body) > PARSE_INLINE_BYTES:  # validating a large batch takes milliseconds: not on the event loop
        batch_id, points = await run_in_threadpool(parse, body)
    else:
        batch_id, points = parse(body)
    return await ctx.metrics.submit(job_id, batch_id, points)


@router.post("/remotemonitor", response_model=Accepted, summary="The original SDK's Keras remote monitor",
             dependencies=[Depends(require_live_job)])
async def remote_monitor(job_id: str, request: Request, ctx: ServerContext = Depends(get_context)) -> Accepted:
    """Form field ``data`` holding JSON, or a JSON body: ``{"epoch": n, ...logs}`` stored at step n."""
    try:
        if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                               "multipart/form-data")):
            logs = parse_json(str((await request.form()).get("data") or "{}"))
        else:
            logs = request.scope[PARSED_JSON] if PARSED_JSON in request.scope else parse_json(await request.body() or b"{}")
    except WireError as exc:
        raise invalid(["body", *exc.loc], f"expected JSON logs ({{\"epoch\": n, ...}}): {exc.rule}") from None
    if not isinstance(logs, dict):
        raise invalid(["body"], "expected a JSON object of logs ({\"epoch\": n, ...})")
    return Accepted(accepted=await run_in_threadpool(metrics.ingest_remote_monitor, ctx.db, job_id, logs))


@router.put("/charts/{name}", status_code=204, summary="Publish a Vega-Lite chart",
            dependencies=[Depends(require_live_job)], openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}})
async def put_chart(job_id: str, name: str, request: Request, ctx: ServerContext = Depends(get_context)) -> Response:
    """Store the chart (body: its Vega-Lite spec); also saved as ``artifacts/charts/<name>.json``."""
    try:
        spec = request.scope[PARSED_JSON] if PARSED_JSON in request.scope else parse_json(await request.body())
    except WireError as exc:
        raise invalid(["body", *exc.loc], f"the chart must be a Vega-Lite spec in JSON: {exc.rule}") from None
    if not isinstance(spec, dict):
        raise invalid(["body"], "the chart must be a Vega-Lite spec: a JSON object")
    await run_in_threadpool(charts.save, ctx, job_id, name, spec)
    return Response(status_code=204)


@router.get("/roottags", response_model=list[TagOut], summary="The roots of the tag tree")
def root_tags(job_id: str, ctx: ServerContext = Depends(get_context)) -> list[TagOut]:
    """The tag tree's roots, each with its subtree."""
    return views.tag_forest(tags.all_tags(ctx))


routers = [frequent, router]
