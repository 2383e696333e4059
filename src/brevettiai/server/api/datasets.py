"""``/api/datasets``: list, read, create and delete datasets (a delete removes their files)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import delete, select

from brevettiai.server import audit, fileindex, views
from brevettiai.server.auth import require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.db import models as db
from brevettiai.server.errors import ApiError, not_found
from brevettiai.server.schemas import MAX_OFFSET, DatasetIn, DatasetOut

router = APIRouter(prefix="/api/datasets", tags=["datasets"], dependencies=[Depends(require_user)])


@router.get("", response_model=list[DatasetOut], summary="List datasets, newest first")
def list_datasets(name: str | None = Query(None, description="Only datasets with exactly this name"),
                  offset: int = Query(0, ge=0, le=MAX_OFFSET), limit: int = Query(100, ge=1, le=1000),
                  ctx: ServerContext = Depends(get_context)) -> list[DatasetOut]:
    """Datasets, newest first."""
    stmt = select(db.Dataset).order_by(db.Dataset.created.desc(), db.Dataset.id).offset(offset).limit(limit)
    if name is not None:
        stmt = stmt.where(db.Dataset.name == name)
    with ctx.db.read() as session:
        return [views.dataset(row) for row in session.scalars(stmt)]


@router.get("/{dataset_id}", response_model=DatasetOut, summary="One dataset")
def get_dataset(dataset_id: str, ctx: ServerContext = Depends(get_context)) -> DatasetOut:
    """One dataset."""
    with ctx.db.read() as session:
        row = session.get(db.Dataset, dataset_id)
        if row is None:
            raise not_found("dataset", dataset_id)
        return views.dataset(row)


@router.post("", response_model=DatasetOut, status_code=201, summary="Create a dataset")
def create_dataset(body: DatasetIn, ctx: ServerContext = Depends(get_context)) -> DatasetOut:
    """A new, empty dataset; its files go to ``/api/files/<id>/...``."""
    with ctx.db.write() as session:
        missing = [{"loc": ["body", "tagIds", i], "msg": f"tag '{tag_id}' not found", "type": "value_error"}
                   for i, tag_id in enumerate(body.tag_ids) if session.get(db.Tag, tag_id) is None]
        if missing:
            raise ApiError(422, missing)
        row = db.Dataset(id=str(uuid.uuid4()), name=body.name, reference=body.reference, notes=body.notes,
                         locked=body.locked, tag_ids=list(dict.fromkeys(body.tag_ids)),
                         created_by=audit.current_user_id())
        session.add(row)
        session.flush()
        ctx.storage.make_resource(row.id)
    audit.record(ctx.db, "dataset.create", row.id, detail=row.name)
    return views.dataset(row)


@router.delete("/{dataset_id}", status_code=204, summary="Delete a dataset and its files")
def delete_dataset(dataset_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete the dataset's record and files."""
    with ctx.db.read() as session:
        found = session.get(db.Dataset, dataset_id)
        if found is None:
            raise not_found("dataset", dataset_id)
    ctx.storage.delete(dataset_id)
    with ctx.db.write() as session:
        fileindex.forget(session, dataset_id)
        session.execute(delete(db.Dataset).where(db.Dataset.id == dataset_id))
    audit.record(ctx.db, "dataset.delete", dataset_id, detail=found.name)
    return Response(status_code=204)
