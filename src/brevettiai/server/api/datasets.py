"""``/api/datasets``: list, read, create and delete datasets (a delete removes their files)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from brevettiai.server import datasets, views
from brevettiai.server.auth import require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.schemas import MAX_OFFSET, DatasetIn, DatasetOut

router = APIRouter(prefix="/api/datasets", tags=["datasets"], dependencies=[Depends(require_user)])


@router.get("", response_model=list[DatasetOut], summary="List datasets, newest first")
def list_datasets(name: str | None = Query(None, description="Only datasets with exactly this name"),
                  offset: int = Query(0, ge=0, le=MAX_OFFSET), limit: int = Query(100, ge=1, le=1000),
                  ctx: ServerContext = Depends(get_context)) -> list[DatasetOut]:
    """Datasets, newest first."""
    return [views.dataset(row) for row in datasets.list_datasets(ctx, name, offset, limit)]


@router.get("/{dataset_id}", response_model=DatasetOut, summary="One dataset")
def get_dataset(dataset_id: str, ctx: ServerContext = Depends(get_context)) -> DatasetOut:
    """One dataset."""
    return views.dataset(datasets.get(ctx, dataset_id))


@router.post("", response_model=DatasetOut, status_code=201, summary="Create a dataset")
def create_dataset(body: DatasetIn, ctx: ServerContext = Depends(get_context)) -> DatasetOut:
    """A new, empty dataset; its files go to ``/api/files/<id>/...``."""
    row = datasets.create(ctx, name=body.name, reference=body.reference, notes=body.notes, locked=body.locked,
                          tag_ids=list(body.tag_ids))
    return views.dataset(row)


@router.delete("/{dataset_id}", status_code=204, summary="Delete a dataset and its files")
def delete_dataset(dataset_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete the dataset's record and files."""
    datasets.delete_dataset(ctx, dataset_id)
    return Response(status_code=204)
