"""``/api/modeltypes``: what jobs run (command, working dir, settings form, defaults)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from brevettiai.server import model_types, views
from brevettiai.server.auth import require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.schemas import ModelTypeIn, ModelTypeOut

router = APIRouter(prefix="/api/modeltypes", tags=["model types"], dependencies=[Depends(require_user)])


@router.get("", response_model=list[ModelTypeOut], summary="List model types")
def list_model_types(name: str | None = Query(None, description="Only model types with exactly this name"),
                     ctx: ServerContext = Depends(get_context)) -> list[ModelTypeOut]:
    """Model types, newest first."""
    return [views.model_type(row) for row in model_types.list_model_types(ctx, name)]


@router.get("/{type_id}", response_model=ModelTypeOut, summary="One model type")
def get_model_type(type_id: str, ctx: ServerContext = Depends(get_context)) -> ModelTypeOut:
    """One model type."""
    return views.model_type(model_types.get(ctx, type_id))


@router.post("", response_model=ModelTypeOut, status_code=201, summary="Create a model type")
def create_model_type(body: ModelTypeIn, ctx: ServerContext = Depends(get_context)) -> ModelTypeOut:
    """A new model type; jobs of it run ``command --job_id <id> --host <url>`` in ``workingDir``."""
    return views.model_type(model_types.create(ctx, body))


@router.delete("/{type_id}", status_code=204, summary="Delete a model type (its jobs keep running)")
def delete_model_type(type_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete a model type; jobs of it are kept, without a model type."""
    model_types.delete_model_type(ctx, type_id)
    return Response(status_code=204)
