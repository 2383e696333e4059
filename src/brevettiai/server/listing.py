"""Listing jobs for the pages and the API: one query, paged, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db

PAGE_SIZE = 50


def list_jobs(ctx: ServerContext, kind: str, q: str, status: str, page: int, size: int = PAGE_SIZE,
               parent_id: str | None = None) -> tuple[list[Any], int]:
    """One page of jobs, newest first: LIMIT/OFFSET on the (kind, created) index; only listed columns read."""
    conditions: list[Any] = [db.Job.kind == kind]
    if q:
        conditions.append(or_(func.lower(db.Job.name).contains(q.lower(), autoescape=True), db.Job.id == q))
    if status:
        conditions.append(db.Job.status == status)
    if parent_id:
        conditions.append(db.Job.parent_id == parent_id)
    with ctx.db.read() as session:
        total = session.scalar(select(func.count()).select_from(db.Job).where(*conditions)) or 0
        rows = session.execute(
            select(db.Job.id, db.Job.name, db.Job.status, db.Job.created, db.Job.started, db.Job.completed,
                   db.Job.parent_id, db.ModelType.name.label("type_name"), db.ModelType.id.label("type_id"))
            .outerjoin(db.ModelType, db.ModelType.id == db.Job.model_type_id)
            .where(*conditions).order_by(db.Job.created.desc(), db.Job.id.desc())
            .offset((page - 1) * size).limit(size)).all()
    return list(rows), total
