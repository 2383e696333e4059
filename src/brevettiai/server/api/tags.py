"""``/api/tags``: the tag tree (list of roots, one subtree, create, delete a subtree)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response
from sqlalchemy import delete, select

from brevettiai.server import views
from brevettiai.server.auth import require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.db import models as db
from brevettiai.server.errors import invalid, not_found
from brevettiai.server.schemas import TagIn, TagOut

router = APIRouter(prefix="/api/tags", tags=["tags"], dependencies=[Depends(require_user)])


def all_tags(ctx: ServerContext) -> list[db.Tag]:
    """Every tag."""
    with ctx.db.read() as session:
        return list(session.scalars(select(db.Tag)))


@router.get("", response_model=list[TagOut], summary="The tag tree: its roots with their children")
def list_tags(ctx: ServerContext = Depends(get_context)) -> list[TagOut]:
    """The roots of the tag tree, each with its subtree."""
    return views.tag_forest(all_tags(ctx))


@router.get("/{tag_id}", response_model=TagOut, summary="One tag with its subtree")
def get_tag(tag_id: str, ctx: ServerContext = Depends(get_context)) -> TagOut:
    """One tag and its subtree."""
    found = views.tag_forest(all_tags(ctx), roots=[tag_id])
    if not found:
        raise not_found("tag", tag_id)
    return found[0]


@router.post("", response_model=TagOut, status_code=201, summary="Create a tag (a root, or below parentId)")
def create_tag(body: TagIn, ctx: ServerContext = Depends(get_context)) -> TagOut:
    """A new tag."""
    with ctx.db.write() as session:
        if body.parent_id is not None and session.get(db.Tag, body.parent_id) is None:
            raise invalid(["body", "parentId"], f"tag '{body.parent_id}' not found")
        row = db.Tag(id=str(uuid.uuid4()), name=body.name, parent_id=body.parent_id)
        session.add(row)
        session.flush()
        return TagOut(id=row.id, name=row.name, parent_id=row.parent_id, created=views.iso(row.created))


@router.delete("/{tag_id}", status_code=204, summary="Delete a tag and its subtree")
def delete_tag(tag_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete a tag and every tag below it."""
    with ctx.db.write() as session:
        if session.get(db.Tag, tag_id) is None:
            raise not_found("tag", tag_id)
        doomed, frontier = {tag_id}, [tag_id]
        while frontier:
            frontier = list(session.scalars(select(db.Tag.id).where(db.Tag.parent_id.in_(frontier))))
            doomed.update(frontier)
        session.execute(delete(db.Tag).where(db.Tag.id.in_(doomed)))
    return Response(status_code=204)
