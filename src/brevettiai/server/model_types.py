"""Model types (what jobs run): list, read, create, delete, and what the zoo's create form needs to know
(jobs per model type, the model a report is made from, the run a form is prefilled from, unused names)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import delete, func, select

from brevettiai.server import audit
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import not_found
from brevettiai.server.schemas import ModelTypeIn


def list_model_types(ctx: ServerContext, name: str | None) -> list[db.ModelType]:
    """Model types, newest first (only those named `name`, if given)."""
    stmt = select(db.ModelType).order_by(db.ModelType.created.desc(), db.ModelType.id)
    if name is not None:
        stmt = stmt.where(db.ModelType.name == name)
    with ctx.db.read() as session:
        return list(session.scalars(stmt))


def zoo(ctx: ServerContext) -> tuple[list[db.ModelType], dict[Any, Any]]:
    """Model types by kind and name, and how many jobs each has (by model type id)."""
    with ctx.db.read() as session:
        types = list(session.scalars(select(db.ModelType).order_by(db.ModelType.kind, db.ModelType.name)))
        counts = dict(session.execute(select(db.Job.model_type_id, func.count()).group_by(db.Job.model_type_id)).all())
    return types, counts


def find(ctx: ServerContext, type_id: str) -> db.ModelType | None:
    """The model type with this id, or None."""
    with ctx.db.read() as session:
        return session.get(db.ModelType, type_id)


def get(ctx: ServerContext, type_id: str) -> db.ModelType:
    """The model type with this id; 404 otherwise."""
    row = find(ctx, type_id)
    if row is None:
        raise not_found("model type", type_id)
    return row


def create(ctx: ServerContext, body: ModelTypeIn) -> db.ModelType:
    """A new model type."""
    row = db.ModelType(id=str(uuid.uuid4()), name=body.name, kind=body.kind, short_description=body.short_description,
                       settings_schema=body.settings_schema.model_dump(), command=list(body.command),
                       working_dir=body.working_dir, defaults=body.defaults, created_by=audit.current_user_id())
    with ctx.db.write() as session:
        session.add(row)
        session.flush()
    audit.record(ctx.db, "modeltype.create", row.id, detail=row.name)
    return row


def delete_model_type(ctx: ServerContext, type_id: str) -> None:
    """Delete a model type; jobs of it are kept, without a model type. 404 if there is no such type."""
    with ctx.db.write() as session:
        found = session.get(db.ModelType, type_id)
        if found is None:
            raise not_found("model type", type_id)
        name = found.name
        session.execute(delete(db.ModelType).where(db.ModelType.id == type_id))
    audit.record(ctx.db, "modeltype.delete", type_id, detail=name)


def find_job(ctx: ServerContext, job_id: str) -> db.Job | None:
    """The job with this id (a parent model, or a run to prefill a form from), or None."""
    with ctx.db.read() as session:
        return session.get(db.Job, job_id)


def unused_name(ctx: ServerContext, base: str) -> str:
    """A default name no job has yet: `base #N`, N one more than the jobs named `base` or `base #...`."""
    with ctx.db.read() as session:
        taken = set(session.scalars(select(db.Job.name).where(
            (db.Job.name == base) | db.Job.name.startswith(f"{base} #", autoescape=True))))
    number = len(taken) + 1
    while f"{base} #{number}" in taken:
        number += 1
    return f"{base} #{number}"


def next_run_name(ctx: ServerContext, name: str) -> str:
    """The name proposed for another run of `name`: unused, so runs stay told apart ("first" -> "first #2",
    "first #2" -> the next free number)."""
    return unused_name(ctx, re.sub(r" #\d+$", "", name) or name)
