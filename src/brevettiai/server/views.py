"""Database rows as API records."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import overload

from brevettiai.contract import scheme
from brevettiai.server.db import models as db
from brevettiai.server.schemas import DatasetOut, JobOut, ModelTypeOut, TagOut, UserOut
from brevettiai.server.security import NO_API_KEY
from brevettiai.server.wire_checks import scrub


@overload
def iso(moment: datetime.datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
@overload
def iso(moment: datetime.datetime | None) -> str | None: ...
def iso(moment: datetime.datetime | None) -> str | None:
    """ISO 8601 UTC text with a Z suffix, as every time on the wire is written."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds") + "Z"


def bucket(resource_id: str) -> str:
    """The SDK's URL of a resource's storage."""
    return scheme.resource_url(resource_id)


def user(row: db.User) -> UserOut:
    """A user record (never its password hash)."""
    return UserOut(id=row.id, username=row.username, first_name=row.first_name, last_name=row.last_name,
                   email=row.email, is_admin=row.role == "admin", role=row.role, disabled=row.disabled,
                   created=iso(row.created))


def dataset(row: db.Dataset) -> DatasetOut:
    """A dataset record."""
    return DatasetOut(id=row.id, name=row.name, bucket=bucket(row.id), created=iso(row.created), locked=row.locked,
                      reference=row.reference, notes=row.notes, tag_ids=list(row.tag_ids or []),
                      created_by=row.created_by)


def tag_forest(rows: Iterable[db.Tag], roots: Iterable[str] | None = None) -> list[TagOut]:
    """Tags as trees: the subtrees of `roots` (ids), or every root of `rows` when None."""
    rows = list(rows)
    children: dict[str | None, list[db.Tag]] = {}
    by_id = {row.id: row for row in rows}
    for row in sorted(rows, key=lambda r: (r.created, r.name)):
        parent = row.parent_id if row.parent_id in by_id else None
        children.setdefault(parent, []).append(row)

    def build(row: db.Tag, seen: frozenset[str]) -> TagOut:
        kids = [build(kid, seen | {kid.id}) for kid in children.get(row.id, []) if kid.id not in seen]
        return TagOut(id=row.id, name=row.name, parent_id=row.parent_id, created=iso(row.created), children=kids)

    starts = children.get(None, []) if roots is None else [by_id[i] for i in roots if i in by_id]
    return [build(row, frozenset({row.id})) for row in starts]


def model_type(row: db.ModelType) -> ModelTypeOut:
    """A model type record."""
    schema = dict(row.settings_schema or {})
    schema.setdefault("fields", [])
    schema.setdefault("presets", {})
    return ModelTypeOut(id=row.id, name=row.name, created=iso(row.created), short_description=row.short_description,
                        settings_schema=schema, command=list(row.command or []), working_dir=row.working_dir,
                        defaults=dict(row.defaults or {}), kind=row.kind, created_by=row.created_by)


def job(row: db.Job, api_key: str | None = None) -> JobOut:
    """A model or report record; `api_key` only in the answer that issued it.

    Free-form values pass through `scrub`: a record stored by an older version may hold text that
    cannot be encoded (a lone surrogate) and must not make every listing fail.
    """
    return JobOut(id=row.id, name=scrub(row.name), kind=row.kind, created=iso(row.created), started=iso(row.started),
                  completed=iso(row.completed), status=row.status, model_type_id=row.model_type_id,
                  settings=scrub(dict(row.settings or {})), dataset_ids=list(row.dataset_ids or []),
                  tag_ids=list(row.tag_ids or []), parent_id=row.parent_id, model_path=scrub(row.model_path),
                  error=scrub(row.error), notes=scrub(row.notes or ""), api_key=api_key or NO_API_KEY,
                  created_by=getattr(row, "created_by", None))
