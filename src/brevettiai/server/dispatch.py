"""The dispatcher: hands queued jobs to the runner, from one server replica at a time.

On PostgreSQL the dispatching replica holds a session advisory lock on a connection of its own; when
that replica stops or dies, its connection closes, the lock is free and another replica's next round
takes it. On SQLite (one machine) the process holding an exclusive ``flock`` on ``<database>.dispatch``
dispatches, so of several worker processes on one database one does. Either way a job is launched only by the conditional
UPDATE in `jobs.launch_queued`, so no job is handed out twice even if two dispatchers overlapped.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sqlalchemy import func, select, text

from brevettiai.contract.status import WATCHED
from brevettiai.server import jobs
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database

log = logging.getLogger("brevettiai.server.dispatch")

LOCK_KEY = 0x62726576_64697370  # "brev" "disp": the advisory lock of the dispatcher
BATCH = 50  # jobs launched per round at most


def wake(ctx: ServerContext) -> None:
    """Dispatch now instead of at the next round (a job was just queued on this server)."""
    ctx.dispatch_wake.set()


def wait(ctx: ServerContext, timeout: float) -> None:
    """Sleep until `timeout` passes or `wake` is called for this server."""
    ctx.dispatch_wake.wait(timeout)
    ctx.dispatch_wake.clear()


class DispatchLease:
    """Whether this process is the dispatcher: an advisory lock held on its own PostgreSQL connection."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: Any = None
        self._lock_file: Any = None

    def held(self) -> bool:
        """True if this process dispatches (taking the lock if it is free)."""
        if self.database.is_sqlite:
            return self._held_file()
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
                return True
            except Exception as exc:
                log.warning("Lost the dispatcher's database connection (%s): no longer dispatching", exc)
                self.release()
        try:
            connection = self.database.engine.connect()
        except Exception as exc:
            log.debug("No database connection for the dispatch lock: %s", exc)
            return False
        try:
            taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar())
            connection.commit()
        except Exception as exc:
            log.debug("Could not ask for the dispatch lock: %s", exc)
            connection.close()
            return False
        if not taken:
            connection.close()
            return False
        connection.detach()  # closing it then really closes it, which frees the lock
        self._connection = connection
        log.info("This server dispatches queued jobs")
        return True

    def _held_file(self) -> bool:
        if self._lock_file is not None:
            return True
        path = self.database.engine.url.database
        try:
            import fcntl
        except ImportError:  # Windows: the process dispatches
            return True
        if not path or path == ":memory:":
            return True
        handle = open(os.path.abspath(path) + ".dispatch", "a")  # noqa: SIM115 - held open while dispatching
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        log.info("This server dispatches queued jobs")
        return True

    def release(self) -> None:
        """Give the lock up (close its connection or file)."""
        lock_file, self._lock_file = self._lock_file, None
        if lock_file is not None:
            lock_file.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.debug("Closing the dispatch lock's connection failed", exc_info=True)


class Dispatcher:
    """One round at a time: if this process dispatches, launch the oldest queued jobs there is room for."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.lease = DispatchLease(ctx.db)

    def run_once(self) -> int:
        """Launch queued jobs (oldest first, within --max-running-jobs); how many were launched."""
        if not self.lease.held():
            return 0
        room = BATCH
        limit = self.ctx.config.max_running_jobs
        with self.ctx.db.read() as session:
            if limit:
                busy = session.scalar(select(func.count()).select_from(db.Job)
                                      .where(db.Job.status.in_(sorted(WATCHED)))) or 0
                room = min(room, limit - busy)
            if room <= 0:
                return 0
            queued = session.scalars(select(db.Job.id).where(db.Job.status == "queued")
                                     .order_by(db.Job.started, db.Job.id).limit(room)).all()
        return sum(1 for job_id in queued if jobs.launch_queued(self.ctx, job_id))

    def close(self) -> None:
        """Stop dispatching from this process."""
        self.lease.release()
