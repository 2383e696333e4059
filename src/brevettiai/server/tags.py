"""Tags: the tag tree (every tag, names, create, delete a subtree), for the API and the pages."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.errors import invalid, not_found


def all_tags(ctx: ServerContext) -> list[db.Tag]:
    """Every tag."""
    with ctx.db.read() as session:
        return list(session.scalars(select(db.Tag)))


def names(ctx: ServerContext) -> dict[str, str]:
    """Every tag's name by its id."""
    return {row.id: row.name for row in all_tags(ctx)}


def create(ctx: ServerContext, name: str, parent_id: str | None) -> db.Tag:
    """A new tag (a root, or below `parent_id`); 422 if that parent does not exist."""
    with ctx.db.write() as session:
        if parent_id is not None and session.get(db.Tag, parent_id) is None:
            raise invalid(["body", "parentId"], f"tag '{parent_id}' not found")
        row = db.Tag(id=str(uuid.uuid4()), name=name, parent_id=parent_id)
        session.add(row)
        session.flush()
        return row


def delete_subtree(ctx: ServerContext, tag_id: str) -> None:
    """Delete a tag and every tag below it; 404 if there is no such tag."""
    with ctx.db.write() as session:
        if session.get(db.Tag, tag_id) is None:
            raise not_found("tag", tag_id)
        doomed, frontier = {tag_id}, [tag_id]
        while frontier:
            frontier = list(session.scalars(select(db.Tag.id).where(db.Tag.parent_id.in_(frontier))))
            doomed.update(frontier)
        session.execute(delete(db.Tag).where(db.Tag.id.in_(doomed)))
