"""``/api/tags``: the tag tree (list of roots, one subtree, create, delete a subtree)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from brevettiai.server import tags, views
from brevettiai.server.auth import require_user
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.errors import not_found
from brevettiai.server.schemas import TagIn, TagOut

router = APIRouter(prefix="/api/tags", tags=["tags"], dependencies=[Depends(require_user)])


@router.get("", response_model=list[TagOut], summary="The tag tree: its roots with their children")
def list_tags(ctx: ServerContext = Depends(get_context)) -> list[TagOut]:
    """The roots of the tag tree, each with its subtree."""
    return views.tag_forest(tags.all_tags(ctx))


@router.get("/{tag_id}", response_model=TagOut, summary="One tag with its subtree")
def get_tag(tag_id: str, ctx: ServerContext = Depends(get_context)) -> TagOut:
    """One tag and its subtree."""
    found = views.tag_forest(tags.all_tags(ctx), roots=[tag_id])
    if not found:
        raise not_found("tag", tag_id)
    return found[0]


@router.post("", response_model=TagOut, status_code=201, summary="Create a tag (a root, or below parentId)")
def create_tag(body: TagIn, ctx: ServerContext = Depends(get_context)) -> TagOut:
    """A new tag."""
    row = tags.create(ctx, body.name, body.parent_id)
    return TagOut(id=row.id, name=row.name, parent_id=row.parent_id, created=views.iso(row.created))


@router.delete("/{tag_id}", status_code=204, summary="Delete a tag and its subtree")
def delete_tag(tag_id: str, ctx: ServerContext = Depends(get_context)) -> Response:
    """Delete a tag and every tag below it."""
    tags.delete_subtree(ctx, tag_id)
    return Response(status_code=204)
