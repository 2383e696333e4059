"""The job lifecycle: create, start, stop and delete models and reports; state reports, heartbeats,
runs claimed and ended on a runner, and what the supervisor decides about jobs that went silent.

States: created -> queued (started by the platform) -> starting (handed to the runner by the
dispatcher) -> running -> completed | failed | killed. A job run by hand goes from created straight
to running, or to starting with ``start?launch=false``. ``lost`` means the platform has not heard
from a running job for the heartbeat timeout, or the Dask worker running it died; a job that reports
again is back to what it reports. completed, failed and killed are final: a different state after
them is refused (409), the same one again is accepted and changes nothing (a retried report).
The transitions and the named sets of where each move may begin are `brevettiai.contract.status`; every
change of a job's status here is one `may_move` allows.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update

from brevettiai.contract.forms import deep_merge, validate_settings
from brevettiai.contract.info import InfoJob, InfoModelType, InfoParent, JobInfo
from brevettiai.contract.runs import new_run_id
from brevettiai.contract.status import (
    ACTIVE,
    CLAIMABLE,
    HELD,
    KILLED_AT_ONCE,
    REVIVED,
    STARTABLE,
    TERMINAL,
    WATCHED,
    JobStatus,
    may_move,
)
from brevettiai.server import audit, run_summary, security
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.db.session import affected_rows
from brevettiai.server.errors import ApiError, not_found
from brevettiai.server.runners import Exited, Launch
from brevettiai.server.runners.dask_task import WORKER_LOST
from brevettiai.server.schemas import ModelIn, ReportIn, StateIn
from brevettiai.server.views import bucket, tag_forest
from brevettiai.server.wire_checks import WireError, parse_json

log = logging.getLogger("brevettiai.server.jobs")

INFO_FILE = "info.json"
LOG_FILE = "logs/job.log"


def get_job(session: Any, job_id: str, kind: str | None = None, lock: bool = False) -> db.Job:
    """The job with this id (of this kind); 404 otherwise. `lock`: row-locked until the transaction ends
    (PostgreSQL; SQLite writers are serialized anyway), for read-check-write changes of its state."""
    job = session.get(db.Job, job_id, with_for_update=lock)
    if job is None or (kind is not None and job.kind != kind):
        raise not_found(kind or "job", job_id)
    return job


def read_job(ctx: ServerContext, job_id: str, kind: str | None = None) -> db.Job:
    """The job with this id (of this kind), read in a transaction of its own; 404 otherwise."""
    with ctx.db.read() as session:
        return get_job(session, job_id, kind)


def _parse_settings(settings: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(settings, dict):
        return settings
    if not settings.strip():
        return {}
    try:
        parsed = parse_json(settings)
    except WireError as exc:
        raise ApiError(422, [{"loc": ["body", "settings", *exc.loc], "msg": f"settings text is not valid JSON: "
                              f"{exc.rule}", "type": "value_error.json"}]) from None
    if not isinstance(parsed, dict):
        raise ApiError(422, [{"loc": ["body", "settings"], "msg": "settings must be a JSON object",
                              "type": "value_error.json"}])
    return parsed


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def create_job(ctx: ServerContext, kind: str, body: ModelIn | ReportIn) -> tuple[db.Job, str]:
    """Validate and store a new model or report and write its info.json; returns it and its key."""
    settings = _parse_settings(body.settings)
    with ctx.db.write() as session:
        errors: list[dict[str, Any]] = []
        model_type = None
        if body.model_type_id:
            model_type = session.get(db.ModelType, body.model_type_id)
            if model_type is None:
                errors.append(_error(["body", "modelTypeId"], f"model type '{body.model_type_id}' not found"))
            elif model_type.kind != kind:
                errors.append(_error(["body", "modelTypeId"], f"model type '{model_type.name}' is for "
                                     f"{model_type.kind}s; a {kind} needs a model type of kind '{kind}'"))
        for index, dataset_id in enumerate(body.dataset_ids):
            if session.get(db.Dataset, dataset_id) is None:
                errors.append(_error(["body", "datasetIds", index], f"dataset '{dataset_id}' not found"))
        for index, tag_id in enumerate(body.tag_ids):
            if session.get(db.Tag, tag_id) is None:
                errors.append(_error(["body", "tagIds", index], f"tag '{tag_id}' not found"))
        parent_id = getattr(body, "parent_id", None)
        if parent_id is not None:
            parent = session.get(db.Job, parent_id)
            if parent is None or parent.kind != "model":
                errors.append(_error(["body", "parentId"], f"model '{parent_id}' not found"))
        if model_type is not None:
            settings = deep_merge(model_type.defaults or {}, settings)
            errors.extend(validate_settings(model_type.settings_schema, settings))
        if errors:
            raise ApiError(422, errors)
        key = security.new_token(security.JOB_KEY_PREFIX)
        job = db.Job(id=str(uuid.uuid4()), kind=kind, name=body.name, status="created", created=utcnow(),
                     model_type_id=body.model_type_id, parent_id=parent_id, settings=settings,
                     dataset_ids=_unique(body.dataset_ids), tag_ids=_unique(body.tag_ids),
                     key_hash=security.token_hash(key), run_id=new_run_id(), stop_requested=False,
                     created_by=audit.current_user_id())
        session.add(job)
        session.flush()
        run_summary.record_settings(session, job.id, settings)  # what the runs table filters on
        _write_info(ctx, session, job)
    log.info("Created %s %s (%s)", kind, job.id, job.name)
    audit.record(ctx.db, f"{kind}.create", job.id, detail=job.name)
    return job, key


def _error(loc: list[Any], msg: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": "value_error"}


def build_info(ctx: ServerContext, session: Any, job: db.Job) -> JobInfo:
    """The job's info.json: what the SDK needs to run it (never its key)."""
    datasets: list[InfoJob] = []
    for dataset_id in job.dataset_ids or []:
        dataset = session.get(db.Dataset, dataset_id)
        if dataset is not None:
            datasets.append(InfoJob(id=dataset.id, name=dataset.name, bucket=bucket(dataset.id)))
    tags = [t.model_dump(mode="json", by_alias=True)
            for t in tag_forest(session.scalars(select(db.Tag)).all(), roots=job.tag_ids or [])]
    parent = session.get(db.Job, job.parent_id) if job.parent_id else None
    parent_info = None if parent is None else InfoParent(id=parent.id, name=parent.name, kind=parent.kind,
                                                         bucket=bucket(parent.id))
    model_type = session.get(db.ModelType, job.model_type_id) if job.model_type_id else None
    return JobInfo(
        id=job.id, name=job.name, kind=job.kind, host_name=ctx.config.public_url, run_id=job.run_id,
        settings=job.settings or {}, datasets=datasets, tags=tags,
        models=[] if parent_info is None else [InfoJob(id=parent_info["id"], name=parent_info["name"],
                                                       bucket=parent_info["bucket"])],
        parent=parent_info,
        charts_url=f"/api/jobs/{job.id}/charts", complete_url=f"/api/jobs/{job.id}/state",
        remote_url=f"/api/jobs/{job.id}/remotemonitor",
        model_type=None if model_type is None else InfoModelType(id=model_type.id, name=model_type.name),
    )


def _write_info(ctx: ServerContext, session: Any, job: db.Job) -> None:
    from brevettiai.server import fileindex

    ctx.storage.make_resource(job.id)
    data = json.dumps(build_info(ctx, session, job), indent=2).encode()
    size, md5 = ctx.storage.write_bytes(job.id, INFO_FILE, data)
    info = ctx.storage.info(job.id, INFO_FILE)
    fileindex.remember(session, job.id, INFO_FILE, size, md5, info.mtime if info else None)


def read_info(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    """The job's info.json as stored (built afresh if storage has none, or none that is a JSON object)."""
    try:
        stored = parse_json(ctx.storage.read_bytes(job_id, INFO_FILE))
    except (OSError, ValueError):  # missing, a folder, not (strict) JSON
        stored = None
    if isinstance(stored, dict):
        return stored
    with ctx.db.read() as session:
        return dict(build_info(ctx, session, get_job(session, job_id)))


def log_file(ctx: ServerContext, job_id: str) -> str:
    """The local file a runner sends the job's output to: in storage when it is a local folder."""
    local = ctx.storage.local_path(job_id, LOG_FILE)
    return local or os.path.join(ctx.config.data_dir, "job-logs", f"{job_id}.log")


def start_job(ctx: ServerContext, job_id: str, kind: str, launch: bool = True) -> tuple[db.Job, str]:
    """Issue a new key, rewrite info.json and queue the job for the dispatcher to launch.

    With ``launch=False`` nothing is launched: the caller runs the job itself with the new key.
    """
    with ctx.db.write() as session:
        job = get_job(session, job_id, kind, lock=True)
        if job.status not in STARTABLE:
            raise ApiError(409, f"{kind} '{job_id}' is {job.status}: only a created {kind} can be started")
        model_type = session.get(db.ModelType, job.model_type_id) if job.model_type_id else None
        if launch and (model_type is None or not model_type.command):
            raise ApiError(409, f"{kind} '{job_id}' has no model type with a command to run; run it yourself "
                                f"with --job_id {job_id} --host {ctx.config.public_url} and its key")
        key = security.new_token(security.JOB_KEY_PREFIX)
        job.key_hash = security.token_hash(key)
        status: JobStatus = "queued" if launch else "starting"
        job.status, job.started, job.run_id = status, utcnow(), new_run_id()
        job.stop_requested, job.stop_requested_at, job.error, job.last_heartbeat = False, None, None, None
        job.run_key_hash, job.claimed_at, job.claim_token, job.runner_ref = None, None, None, None
        _write_info(ctx, session, job)
    ctx.tokens.forget_job(job_id)  # after the commit: the old key must not be cached again
    audit.record(ctx.db, f"{kind}.start", job_id, detail=job.name)
    if launch:
        from brevettiai.server import dispatch

        dispatch.wake(ctx)
    return job, key


def launch_queued(ctx: ServerContext, job_id: str) -> bool:
    """Hand a queued job to the runner with a key of its own; False if it was not queued any more.

    The claim is one conditional UPDATE, so of several dispatchers only one ever launches a job.
    """
    key = security.new_token(security.JOB_KEY_PREFIX)
    problem = None
    with ctx.db.write() as session:
        claimed = affected_rows(session.execute(
            update(db.Job).where(db.Job.id == job_id, db.Job.status == "queued")
            .values(status="starting", started=utcnow(), run_key_hash=security.token_hash(key), claimed_at=None,
                    claim_token=None)
            .execution_options(synchronize_session=False)))
        if claimed != 1:
            return False
        job = get_job(session, job_id)
        model_type = session.get(db.ModelType, job.model_type_id) if job.model_type_id else None
        if model_type is None or not model_type.command:
            problem = "its model type has no command any more"
        else:
            request = Launch(job_id=job.id, run_id=job.run_id or "", host=ctx.config.public_url or "",
                             argv=[*model_type.command, "--job_id", job.id, "--host", ctx.config.public_url or ""],
                             cwd=model_type.working_dir, env={"BREVETTI_AI_API_KEY": key},
                             log_file=log_file(ctx, job.id))
    if problem is None:
        try:
            reference = ctx.runner.start(request)
        except Exception as exc:
            problem = f"the {ctx.runner.name} runner could not start it: {exc}"
    if problem is not None:
        log.error("Job %s could not be launched: %s", job_id, problem)
        _finish(ctx, job_id, "failed", {"message": problem})
        return True
    with ctx.db.write() as session:
        session.execute(update(db.Job).where(db.Job.id == job_id).values(runner_ref=reference)
                        .execution_options(synchronize_session=False))
    log.info("Launched job %s on the %s runner (%s)", job_id, ctx.runner.name, reference)
    return True


def claim_run(ctx: ServerContext, job_id: str, run_id: str, claim_token: str | None = None) -> bool:
    """The runner's task of a run claims it before starting the job; returns whether a stop was asked for.

    A run is claimed once: a second claim (Dask running the task again after its worker died) is a 409.
    The same claim again, with the token its task attempt chose, is answered as the first was: the task
    sent it again because the first answer was lost.
    """
    with ctx.db.write() as session:
        now = utcnow()
        claimed = affected_rows(session.execute(
            update(db.Job).where(db.Job.id == job_id, db.Job.run_id == run_id, db.Job.claimed_at.is_(None),
                                 db.Job.status.in_(sorted(CLAIMABLE)))
            .values(claimed_at=now, last_heartbeat=now, claim_token=claim_token)
            .execution_options(synchronize_session=False)))
        job = get_job(session, job_id)
        if claimed != 1 and claim_token and job.run_id == run_id and job.claim_token == claim_token:
            return job.stop_requested
        if claimed != 1:
            why = f"it is {job.status}" if job.claimed_at is None else "it was claimed already"
            raise ApiError(409, f"run {run_id} of job {job_id} cannot be claimed: {why}")
        return job.stop_requested


def run_exited(ctx: ServerContext, job_id: str, run_id: str, code: int | None, signal: str | None,
               lost: bool = False) -> db.Job:
    """The runner's task reports how the run's process ended, or (`lost`) that the worker running it died."""
    with ctx.db.read() as session:
        job = get_job(session, job_id)
    if job.run_id != run_id:
        raise ApiError(409, f"run {run_id} is not the current run of job {job_id} ({job.run_id})")
    if not lost:
        job_exited(ctx, Exited(job_id, code, signal))
    else:
        with ctx.db.write() as session:
            job = get_job(session, job_id, lock=True)
            if may_move(job.status, "lost"):
                job.status, job.error = "lost", {"message": WORKER_LOST}
                log.warning("Job %s is lost: %s", job_id, WORKER_LOST)
            elif job.status not in TERMINAL:  # an ended job stays ended; one never launched has no run to lose
                raise ApiError(409, f"job '{job_id}' is {job.status}: only a launched job can be lost")
    with ctx.db.read() as session:
        return get_job(session, job_id)


def _finish(ctx: ServerContext, job_id: str, status: JobStatus, error: dict[str, Any] | None) -> db.Job:
    with ctx.db.write() as session:
        job = get_job(session, job_id, lock=True)
        if job.status != status and may_move(job.status, status):
            job.status, job.completed, job.error = status, utcnow(), error
        return job


def stop_job(ctx: ServerContext, job_id: str, kind: str) -> db.Job:
    """Ask a job to stop: a queued one is killed at once; for a launched one the request is stored, so the
    replica whose runner holds it signals it (within half a second), and its next heartbeat answers
    stopRequested."""
    with ctx.db.write() as session:
        job = get_job(session, job_id, kind, lock=True)
        now = utcnow()
        if job.status in KILLED_AT_ONCE:
            job.status, job.completed, job.error = "killed", now, {"message": "stopped before it started"}
            job.stop_requested, job.stop_requested_at = True, now
        active = job.status in ACTIVE
        if active and not job.stop_requested:
            job.stop_requested, job.stop_requested_at = True, now
        reference = job.runner_ref
    audit.record(ctx.db, f"{kind}.stop", job_id, detail=job.name)
    if active and not ctx.runner.stop(job_id, reference):
        log.info("Job %s is not held by this server's runner: its own replica or its heartbeat stops it", job_id)
    return job


def forward_stops(ctx: ServerContext) -> None:
    """Signal the jobs of this server's runner whose stop was asked for, on whichever replica."""
    with ctx.db.read() as session:
        rows = session.execute(select(db.Job.id, db.Job.runner_ref).where(
            db.Job.status.in_(sorted(HELD)), db.Job.stop_requested.is_(True),
            db.Job.runner_ref.is_not(None))).all()
    for job_id, reference in rows:
        try:
            ctx.runner.stop(job_id, reference)
        except Exception as exc:
            log.warning("Could not stop job %s: %s", job_id, exc)


def delete_job(ctx: ServerContext, job_id: str, kind: str) -> None:
    """Stop a job if it runs, and delete its record, metrics, charts and job dir."""
    from brevettiai.server import fileindex

    with ctx.db.read() as session:
        found = get_job(session, job_id, kind)
        reference, name = found.runner_ref, found.name
    ctx.runner.stop(job_id, reference)
    ctx.storage.delete(job_id)
    with ctx.db.write() as session:
        fileindex.forget(session, job_id)
        session.execute(delete(db.Job).where(db.Job.id == job_id))
    ctx.tokens.forget_job(job_id)
    audit.record(ctx.db, f"{kind}.delete", job_id, detail=name)
    log.info("Deleted %s %s", kind, job_id)


def report_state(ctx: ServerContext, job_id: str, body: StateIn) -> db.Job:
    """A state the job reports (running, completed, failed, killed); terminal states are final."""
    with ctx.db.write() as session:
        job = get_job(session, job_id, lock=True)
        if not may_move(job.status, body.status):
            raise ApiError(409, f"job '{job_id}' is already {job.status}; its state cannot change to {body.status}")
        if job.status in TERMINAL:  # the same final state again: a retried report changes nothing
            return job
        now = utcnow()
        started = _naive_utc(body.started) or job.started or now
        completed = _naive_utc(body.completed)
        if completed is not None and completed < started:
            raise ApiError(422, f"completed {body.completed} is before the job's start {started.isoformat()}Z")
        job.started = started
        if body.status == "running":
            job.last_heartbeat = now
            if job.status == "lost":
                job.error = None
        else:
            job.completed = completed or now
        job.status = body.status
        if body.model_path is not None:
            job.model_path = body.model_path
        if body.exit is not None:
            job.error = body.exit.model_dump(exclude_none=True)
    log.info("Job %s is %s", job_id, body.status)
    return job


def _naive_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """An aware time as the naive UTC datetime the columns hold."""
    return None if moment is None else moment.astimezone(datetime.UTC).replace(tzinfo=None)


def heartbeat(ctx: ServerContext, job_id: str) -> tuple[str, bool]:
    """Record that the job is alive; returns its status and whether it was asked to stop."""
    with ctx.db.write() as session:
        job = get_job(session, job_id, lock=True)
        job.last_heartbeat = utcnow()
        if job.status in REVIVED:
            if job.status == "lost":
                log.info("Job %s is back", job_id)
            job.status, job.error = "running", None
        return job.status, job.stop_requested


def job_exited(ctx: ServerContext, exited: Exited, server_shutdown: bool = False) -> None:
    """A runner's process ended: store its log, and end the job if it did not report how it ended."""
    if exited.log_file is not None and ctx.storage.local_path(exited.job_id, LOG_FILE) != exited.log_file:
        _upload_log(ctx, exited)
    with ctx.db.write() as session:
        job = session.get(db.Job, exited.job_id, with_for_update=True)
        if job is None or job.status in TERMINAL:
            return
        how = f"signal {exited.signal}" if exited.signal else f"exit code {exited.code}"
        if exited.code is None and exited.signal is None:
            how = "before it started"
        error: dict[str, Any] = {"code": exited.code, "signal": exited.signal}
        ended: JobStatus
        if server_shutdown:
            ended, error["message"] = "killed", f"the platform server shut down ({how})"
        elif job.stop_requested:
            ended, error["message"] = "killed", f"stopped on request ({how})"
        else:
            ended, error["message"] = "failed", f"the job process ended ({how}) without reporting how it ended"
        if not may_move(job.status, ended):
            return
        job.status, job.completed, job.error = ended, utcnow(), error
    log.info("Job %s %s: %s", exited.job_id, job.status, error["message"])


def _upload_log(ctx: ServerContext, exited: Exited) -> None:
    if exited.log_file is None or not os.path.exists(exited.log_file):
        return
    try:
        with ctx.db.read() as session:
            if session.get(db.Job, exited.job_id) is None:  # deleted meanwhile: nowhere to keep the log
                os.remove(exited.log_file)
                return
        upload = ctx.storage.begin_upload(exited.job_id, LOG_FILE)
        try:
            with open(exited.log_file, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    upload.write(chunk)
            upload.commit()
        except BaseException:
            upload.abort()
            raise
        os.remove(exited.log_file)
    except Exception as exc:
        log.error("Could not store the log of job %s (kept in %s): %s", exited.job_id, exited.log_file, exc)


def mark_lost(ctx: ServerContext) -> list[str]:
    """Jobs starting or running without a heartbeat for the timeout become lost; returns their ids."""
    timeout = ctx.config.heartbeat_timeout
    cutoff = utcnow() - datetime.timedelta(seconds=timeout)
    with ctx.db.write() as session:
        silent = session.scalars(select(db.Job).where(
            db.Job.status.in_(sorted(WATCHED)),
            func.coalesce(db.Job.last_heartbeat, db.Job.started) < cutoff).with_for_update()).all()
        for job in silent:
            job.status, job.error = "lost", {"message": f"no heartbeat for {timeout:g} s"}
    for job in silent:
        log.warning("Job %s is lost: no heartbeat for %g s", job.id, timeout)
    return [job.id for job in silent]
