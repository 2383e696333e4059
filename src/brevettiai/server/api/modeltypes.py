"""``/api/modeltypes``: what jobs run (command, working dir, settings form, defaults)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import delete, select

from brevettiai.server import audit, views
from brevettiai.server.auth import require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.db import models as db
from brevettiai.server.errors import not_found
from brevettiai.server.schemas import ModelTypeIn, ModelTypeOut

router = APIRouter(prefix="/api/modeltypes", tags=["model types"], dependencies=[Depends(require_user)])


@router.get("", response_model=list[ModelTypeOut], summary="List model types")
def list_model_types(name: str | None = Query(None, description="Only model types with exactly this name"),
                     ctx: ServerContext = Depends(get_context)) -> list[ModelTypeOut]:
    """Model types, newest first."""
    stmt = select(db.ModelType).order_by(db.ModelType.created.desc(), db.ModelType.id)
    if name is not None:
        stmt = stmt.where(db.ModelType.name == name)
    with ctx.db.read() as session:
        return [views.model_type(row) for row in session.scalars(stmt)]


@router.get("/{type_id}", response_model=ModelTypeOut, summary="One model type")
def get_model_type(type_id: str, ctx: ServerContext = Depends(get_context)) -> ModelTypeOut:
    """One model type."""
    with ctx.db.read() as session:
        row = session.get(db.ModelType, type_id)
        if row is None:
            raise not_found("model type", type_id)
        return views.model_type(row)


@router.post("", response_model=ModelTypeOut, status_code=201, summary="Create a model type")
def create_model_type(body: ModelTypeIn, ctx: ServerContext = Depends(get_context)) -> ModelTypeOut:
    """A new model type; jobs of it run ``command --job_id <id> --host <url>`` in ``workingDir``."""
    row = db.ModelType(id=str(uuid.uuid4()), name=body.name, kind=body.kind, short_description=body.short_description,
                       settings_schema=body.settings_schema.model_dump(), command=list(body.command),
                       working_dir=body.working_dir, defaults=body.defaults, created_by=audit.current_user_id())
    with ctx.db.write() as session:
        session.add(row)
        session.flush()
    audit.record(ctx.db, "modeltype.create", row.id, detail=row.name)
    return views.model_type(row)


@router.delete("/{type_id}", status_code=204, summary="Delete a model type (its jobs keep running)")
def delete_model_type(type_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete a model type; jobs of it are kept, without a model type."""
    with ctx.db.write() as session:
        found = session.get(db.ModelType, type_id)
        if found is None:
            raise not_found("model type", type_id)
        name = found.name
        session.execute(delete(db.ModelType).where(db.ModelType.id == type_id))
    audit.record(ctx.db, "modeltype.delete", type_id, detail=name)
    return Response(status_code=204)
