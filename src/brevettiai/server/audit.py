"""The audit log: who did what, when, from where, and how it ended (table ``audit_events``).

The request's actor (user, client address) is set once per request by `brevettiai.server.access`
into a context variable, so the functions that start, stop and delete things record an event with
one call and no extra arguments. Outside a request (the CLI, the server's own monitor) the actor is
what the caller sets with `acting_as`, else the server itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database

log = logging.getLogger("brevettiai.server.audit")

OK, DENIED, FAILED = "ok", "denied", "failed"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (id and name), a job, or the server; and from which address."""

    user_id: str | None = None
    name: str = "server"
    address: str = ""


SERVER = Actor()
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("brevettiai_actor", default=SERVER)


def current() -> Actor:
    """The actor of the current request (or `acting_as` block)."""
    return _actor.get()


def current_user_id() -> str | None:
    """The id of the user acting now, if a user is (what ``created_by`` records)."""
    return _actor.get().user_id


def set_actor(actor: Actor) -> None:
    """Make `actor` the actor of the rest of this request (its task and the threads it hands work to)."""
    _actor.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Record what happens in the block as done by `actor`."""
    reset = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(reset)


def record(database: Database, action: str, target: str = "", outcome: str = OK, detail: str = "",
           actor: Actor | None = None) -> None:
    """Store one event; a failure to store is logged, never raised (the action itself happened)."""
    who = actor or _actor.get()
    try:
        with database.write() as session:
            session.add(db.AuditEvent(actor_id=who.user_id, actor=who.name[:255], address=who.address[:64],
                                      action=action[:64], target=target[:255], outcome=outcome[:16],
                                      detail=detail[:255]))
    except Exception as exc:
        log.warning("Could not record %s %s in the audit log: %s", action, target, exc)


def events(database: Database, offset: int = 0, limit: int = 100, action: str | None = None,
           actor: str | None = None) -> tuple[list[db.AuditEvent], int]:
    """A page of events, newest first, and how many there are in all (optionally of one action or actor)."""
    query = select(db.AuditEvent)
    count = select(func.count()).select_from(db.AuditEvent)
    if action:
        query, count = query.where(db.AuditEvent.action == action), count.where(db.AuditEvent.action == action)
    if actor:
        query, count = query.where(db.AuditEvent.actor == actor), count.where(db.AuditEvent.actor == actor)
    with database.read() as session:
        rows = list(session.execute(query.order_by(db.AuditEvent.id.desc()).offset(offset).limit(limit)).scalars())
        total = session.execute(count).scalar_one()
        session.expunge_all()
    return rows, total
