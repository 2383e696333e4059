"""Page settings a person chose (the runs table's columns...), kept on the server by user name."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow


def get_pref(ctx: ServerContext, username: str, name: str) -> dict[str, Any] | None:
    """The value `username` stored under `name`, or None."""
    with ctx.db.read() as session:
        row = session.get(db.UserPref, (username, name))
        return dict(row.value) if row is not None and isinstance(row.value, dict) else None


def set_pref(ctx: ServerContext, username: str, name: str, value: dict[str, Any]) -> None:
    """Store `value` for `username` under `name` (replacing what was there)."""
    for attempt in (1, 2):
        try:
            with ctx.db.write() as session:
                row = session.get(db.UserPref, (username, name), with_for_update=True)
                if row is None:
                    session.add(db.UserPref(username=username, name=name, value=value, updated=utcnow()))
                else:
                    row.value, row.updated = value, utcnow()
            return
        except IntegrityError:  # the same person saved twice at once (PostgreSQL): the second one updates
            if attempt == 2:
                raise
