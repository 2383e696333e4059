"""Readiness: can the server still store what it is sent? Database and storage write probes, cached briefly.

`/healthz` answers 503 naming what failed when a probe cannot write (a read-only or full disk, a
database held locked by someone else, a PostgreSQL server in read-only mode or gone, a storage
folder or bucket that refuses writes). The database probe rewrites the one row of
``alembic_version`` with its own value: a real write on every backend, with nothing changed. The
storage probe writes and deletes a small file under ``.readiness/`` in the storage root. Results are
kept for `ttl` (database) and `storage_ttl` seconds so that frequent health checks cost little.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import text

from brevettiai.server.db.session import Database

if TYPE_CHECKING:
    from brevettiai.server.storage import Storage

log = logging.getLogger("brevettiai.server.readiness")

PROBE_TIMEOUT_MS = 1000
PROBE_FOLDER = ".readiness"  # beside the resources in the storage root; never a resource id


class WriteProbe:
    """Whether the database (checked at most once per `ttl` s) and the storage (once per `storage_ttl` s) take a write."""

    def __init__(self, database: Database, storage: Storage | None = None, ttl: float = 1.0,
                 storage_ttl: float = 5.0) -> None:
        self.database = database
        self.storage = storage
        self.ttl = ttl
        self.storage_ttl = storage_ttl
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._storage_checked_at = -float("inf")
        self._problem: str | None = None
        self._storage_problem: str | None = None

    def problem(self) -> str | None:
        """None when the database and the storage can be written; else what failed, in one line."""
        now = time.monotonic()
        if now - self._checked_at < self.ttl and (self.storage is None or now - self._storage_checked_at < self.storage_ttl):
            return self._problem or self._storage_problem
        if not self._lock.acquire(blocking=False):
            return self._problem or self._storage_problem  # another request is probing: its last answer stands
        try:
            if now - self._checked_at >= self.ttl:
                self._problem = self._probe()
                self._checked_at = time.monotonic()
            if self.storage is not None and now - self._storage_checked_at >= self.storage_ttl:
                self._storage_problem = self._probe_storage(self.storage)
                self._storage_checked_at = time.monotonic()
            return self._problem or self._storage_problem
        finally:
            self._lock.release()

    @staticmethod
    def _probe_storage(storage: Storage) -> str | None:
        name = f"{socket.gethostname()}-{os.getpid()}"
        try:
            storage.write_bytes(PROBE_FOLDER, name, b"ok")
            storage.delete(PROBE_FOLDER, name)
        except Exception as exc:
            message = " ".join(str(exc).split())[:200] or type(exc).__name__
            log.warning("Readiness: the storage cannot be written: %s", message)
            return f"storage: cannot write ({message})"
        return None

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
