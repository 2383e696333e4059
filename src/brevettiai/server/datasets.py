"""Datasets: list, search, read, create, retag and delete (a delete removes their files), for the API and
the pages."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, or_, select

from brevettiai.server import audit, fileindex
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError, not_found


def list_datasets(ctx: ServerContext, name: str | None, offset: int, limit: int) -> list[db.Dataset]:
    """Datasets, newest first (only those named `name`, if given)."""
    stmt = select(db.Dataset).order_by(db.Dataset.created.desc(), db.Dataset.id).offset(offset).limit(limit)
    if name is not None:
        stmt = stmt.where(db.Dataset.name == name)
    with ctx.db.read() as session:
        return list(session.scalars(stmt))


def search(ctx: ServerContext, q: str, offset: int, limit: int) -> tuple[int, list[db.Dataset]]:
    """How many datasets match `q` (a part of the name, any case, or the exact id; empty: all), and one page
    of them, newest first."""
    conditions: list[Any] = []
    if q:
        conditions.append(or_(func.lower(db.Dataset.name).contains(q.lower(), autoescape=True), db.Dataset.id == q))
    with ctx.db.read() as session:
        total = session.scalar(select(func.count()).select_from(db.Dataset).where(*conditions)) or 0
        rows = list(session.scalars(select(db.Dataset).where(*conditions)
                                    .order_by(db.Dataset.created.desc(), db.Dataset.id.desc())
                                    .offset(offset).limit(limit)))
    return total, rows


def options(ctx: ServerContext, limit: int = 500) -> list[Any]:
    """(id, name, created) of the newest datasets, for choosing from."""
    with ctx.db.read() as session:
        return list(session.execute(select(db.Dataset.id, db.Dataset.name, db.Dataset.created)
                                    .order_by(db.Dataset.created.desc()).limit(limit)))


def find(ctx: ServerContext, dataset_id: str) -> db.Dataset | None:
    """The dataset with this id, or None."""
    with ctx.db.read() as session:
        return session.get(db.Dataset, dataset_id)


def get(ctx: ServerContext, dataset_id: str) -> db.Dataset:
    """The dataset with this id; 404 otherwise."""
    row = find(ctx, dataset_id)
    if row is None:
        raise not_found("dataset", dataset_id)
    return row


def create(ctx: ServerContext, name: str, reference: str, notes: str, locked: bool,
           tag_ids: list[str]) -> db.Dataset:
    """A new, empty dataset with its storage; 422 naming each tag that does not exist."""
    with ctx.db.write() as session:
        missing = [{"loc": ["body", "tagIds", i], "msg": f"tag '{tag_id}' not found", "type": "value_error"}
                   for i, tag_id in enumerate(tag_ids) if session.get(db.Tag, tag_id) is None]
        if missing:
            raise ApiError(422, missing)
        row = db.Dataset(id=str(uuid.uuid4()), name=name, reference=reference, notes=notes,
                         locked=locked, tag_ids=list(dict.fromkeys(tag_ids)),
                         created_by=audit.current_user_id())
        session.add(row)
        session.flush()
        ctx.storage.make_resource(row.id)
    audit.record(ctx.db, "dataset.create", row.id, detail=row.name)
    return row


def set_tags(ctx: ServerContext, dataset_id: str, tag_ids: list[str]) -> db.Dataset | None:
    """Set the dataset's tags to those of `tag_ids` that exist (in that order); None if there is no such
    dataset."""
    with ctx.db.write() as session:
        row = session.get(db.Dataset, dataset_id)
        if row is None:
            return None
        known = set(session.scalars(select(db.Tag.id).where(db.Tag.id.in_(tag_ids))))
        row.tag_ids = [tag_id for tag_id in tag_ids if tag_id in known]
        return row


def delete_dataset(ctx: ServerContext, dataset_id: str) -> None:
    """Delete the dataset's files and record; 404 if there is no such dataset."""
    found = get(ctx, dataset_id)
    ctx.storage.delete(dataset_id)
    with ctx.db.write() as session:
        fileindex.forget(session, dataset_id)
        session.execute(delete(db.Dataset).where(db.Dataset.id == dataset_id))
    ctx.tokens.forget_resource(dataset_id)  # file requests find it gone now, on every replica within a second
    audit.record(ctx.db, "dataset.delete", dataset_id, detail=found.name)
