"""Token revocation across replicas: a logout or a replaced job key on one server is seen by all within 1 s.

Every server caches the tokens it has seen (`brevettiai.server.auth.TokenCache`). A revocation bumps a
counter in the database (``server_state`` row ``token_revocations``); every server reads that counter
a few times a second and empties its cache when it changed. Revocations are rare (logouts, key
changes, deletions), so emptying the whole cache costs little, and a poll is one primary-key read.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database

if TYPE_CHECKING:
    from brevettiai.server.auth import TokenCache

log = logging.getLogger("brevettiai.server.auth")

COUNTER = "token_revocations"
POLL_EVERY = 0.2  # plus a request's own time: well within the promised second


def announce(session: Session) -> None:
    """Tell every replica that a token was revoked (part of the caller's write transaction)."""
    session.execute(update(db.ServerState).where(db.ServerState.name == COUNTER)
                    .values(number=db.ServerState.number + 1))


def ensure_counter(database: Database) -> None:
    """Create the counter row if no server has yet (servers starting together may race here)."""
    with database.read() as session:
        if session.get(db.ServerState, COUNTER) is not None:
            return
    try:
        with database.write() as session:
            session.add(db.ServerState(name=COUNTER, number=0))
    except IntegrityError:
        pass


def read_counter(database: Database) -> int:
    """The current revocation count."""
    with database.read() as session:
        row = session.get(db.ServerState, COUNTER)
        return row.number if row is not None else 0


class RevocationWatch:
    """A daemon thread that announces this server's revocations and applies everyone's to the cache."""

    def __init__(self, database: Database, cache: TokenCache, every: float = POLL_EVERY) -> None:
        self.database = database
        self.cache = cache
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Read the counter once, then watch it in the background."""
        ensure_counter(self.database)
        self.cache.seen_generation(read_counter(self.database))
        self._thread = threading.Thread(target=self._loop, name="brevettiai-revocations", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.check()
            except Exception as exc:  # the database briefly away: entries still age out after the cache's ttl
                log.warning("Could not check for revoked tokens: %s", exc)

    def check(self) -> None:
        """Announce the revocations made here since the last check, then apply the current count."""
        if self.cache.take_unannounced():
            with self.database.write() as session:
                announce(session)
        self.cache.seen_generation(read_counter(self.database))
