"""What a user changes about a run after creating it (name, notes, tags), creating a run that starts at once,
and the records a run's page shows with it (`related`).

`create_and_start` never leaves an orphan: a record whose start fails stays ``created`` (the failed
start changed nothing), the reason is returned to be shown, and its page offers Start again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from brevettiai.server import jobs
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError
from brevettiai.server.schemas import JobPatch, ModelIn, ReportIn

log = logging.getLogger("brevettiai.server.runs")


def create_and_start(ctx: ServerContext, kind: str, body: ModelIn | ReportIn,
                     start: bool = True) -> tuple[db.Job, str, str | None]:
    """Create the job (422 on bad input) and, when asked, start it; returns it, its key and why it did not start."""
    job, key = jobs.create_job(ctx, kind, body)
    if not start:
        return job, key, None
    try:
        job, key = jobs.start_job(ctx, job.id, kind)
    except ApiError as exc:
        return job, key, str(exc.detail)
    except Exception as exc:  # the start's transaction rolled back: the record is still `created`
        log.exception("Could not start %s %s", kind, job.id)
        return job, key, f"the platform could not queue it ({type(exc).__name__}); start it again from its page"
    return job, key, None


@dataclass(frozen=True)
class Related:
    """A job with the records its page shows: its model type, datasets (None: deleted), tag names (None: deleted),
    the model a report is about, and for a model the report types a report can be made with."""

    job: db.Job
    model_type: db.ModelType | None
    datasets: list[tuple[str, db.Dataset | None]]
    tags: list[tuple[str, str | None]]
    parent: db.Job | None
    report_types: list[db.ModelType]


def related(ctx: ServerContext, job_id: str, kind: str) -> Related:
    """The job of this kind (404 otherwise) and the records related to it, read in one transaction."""
    with ctx.db.read() as session:
        job = jobs.get_job(session, job_id, kind)
        model_type = session.get(db.ModelType, job.model_type_id) if job.model_type_id else None
        datasets = [(dataset_id, session.get(db.Dataset, dataset_id)) for dataset_id in job.dataset_ids or []]
        tag_names = {row.id: row.name for row in session.scalars(select(db.Tag))}
        parent = session.get(db.Job, job.parent_id) if job.parent_id else None
        report_types = list(session.scalars(select(db.ModelType).where(db.ModelType.kind == "report")
                                            .order_by(db.ModelType.name))) if kind == "model" else []
    tags = [(tag_id, tag_names.get(tag_id)) for tag_id in job.tag_ids or []]
    return Related(job, model_type, datasets, tags, parent, report_types)


def not_started_reason(model_type: db.ModelType | None, kind: str) -> str | None:
    """Why a created job cannot be started by the platform, or None when Start will work."""
    if model_type is None:
        return f"this {kind} has no model type, so the platform has no command to run it with"
    if not model_type.command:
        return f"its model type “{model_type.name}” has no command to run; run the job yourself with its id and key"
    return None


def edit_job(ctx: ServerContext, job_id: str, kind: str, patch: JobPatch) -> db.Job:
    """Change a job's name, notes or tags (the fields given); tags are checked and written to info.json."""
    with ctx.db.write() as session:
        job = jobs.get_job(session, job_id, kind, lock=True)
        if patch.tag_ids is not None:
            missing = [{"loc": ["body", "tagIds", index], "msg": f"tag '{tag_id}' not found", "type": "value_error"}
                       for index, tag_id in enumerate(patch.tag_ids) if session.get(db.Tag, tag_id) is None]
            if missing:
                raise ApiError(422, missing)
        if patch.name is not None:
            name = patch.name.strip()
            if not name:
                raise ApiError(422, [{"loc": ["body", "name"], "msg": "the name is empty", "type": "value_error"}])
            job.name = name
        if patch.notes is not None:
            job.notes = patch.notes.replace("\r\n", "\n") or None
        if patch.tag_ids is not None:
            job.tag_ids = list(dict.fromkeys(patch.tag_ids))
        if patch.tag_ids is not None or patch.name is not None:
            jobs._write_info(ctx, session, job)  # the record the job reads names its tags
        session.flush()
    log.info("Edited %s %s: %s", kind, job_id, ", ".join(sorted(patch.model_fields_set)))
    return job
