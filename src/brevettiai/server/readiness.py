"""Readiness: can the server still store what it is sent? A database write probe, cached briefly.

`/healthz` answers 503 naming what failed when the probe cannot write (a read-only or full disk, a
database held locked by someone else, a PostgreSQL server in read-only mode or gone). The probe
rewrites the one row of ``alembic_version`` with its own value: a real write on every backend, with
nothing changed. Its result is kept for `ttl` seconds so that frequent health checks cost nothing.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import text

from brevettiai.server.db.session import Database

log = logging.getLogger("brevettiai.server.readiness")

PROBE_TIMEOUT_MS = 1000


class WriteProbe:
    """Whether the database takes a write, checked at most once per `ttl` seconds."""

    def __init__(self, database: Database, ttl: float = 1.0) -> None:
        self.database = database
        self.ttl = ttl
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._problem: str | None = None

    def problem(self) -> str | None:
        """None when the database can be written; else what failed, in one line."""
        if time.monotonic() - self._checked_at < self.ttl:
            return self._problem
        if not self._lock.acquire(blocking=False):
            return self._problem  # another request is probing right now: its last answer stands
        try:
            self._problem = self._probe()
            self._checked_at = time.monotonic()
            return self._problem
        finally:
            self._lock.release()

    def _probe(self) -> str | None:
        try:
            with self.database.engine.connect() as connection:
                if self.database.is_sqlite:  # a held lock must not keep the probe waiting for 30 s
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={PROBE_TIMEOUT_MS}")
                else:
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_MS}")
                try:
                    connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
                    connection.commit()
                finally:
                    if self.database.is_sqlite:
                        connection.exec_driver_sql("PRAGMA busy_timeout=30000")
        except Exception as exc:
            message = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
            log.warning("Readiness: the database cannot be written: %s", message)
            return f"database: cannot write ({message})"
        return None
