"""The supervisor: a background thread that dispatches queued jobs, forwards stop requests to this server's runner, ends
jobs whose process exited, marks silent ones lost, purges expired logins."""

from __future__ import annotations

import logging
import threading
import time

from brevettiai.server import auth, dispatch, jobs
from brevettiai.server.context import ServerContext

log = logging.getLogger("brevettiai.server.supervisor")

POLL_EVERY = 0.5  # runner processes and stop requests: a stop asked on any replica is sent within this
PURGE_EVERY = 600.0


class Supervisor:
    """A daemon thread polling the runner often and checking heartbeats every `heartbeat_every` seconds."""

    def __init__(self, ctx: ServerContext, heartbeat_every: float | None = None) -> None:
        self.ctx = ctx
        # A lost job is noticed within a quarter of the timeout after it (within 5 s at most).
        self.heartbeat_every = heartbeat_every or min(5.0, max(POLL_EVERY, ctx.config.heartbeat_timeout / 4))
        self.dispatcher = dispatch.Dispatcher(ctx)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat_check = 0.0
        self._last_purge = 0.0

    def start(self) -> None:
        """Start checking in the background."""
        self._thread = threading.Thread(target=self._loop, name="brevettiai-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop checking, wait for the current check to end, and stop dispatching."""
        self._stop.set()
        dispatch.wake(self.ctx)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.dispatcher.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # a failed check (database briefly away) must not end the supervisor
                log.exception("Job check failed")
            dispatch.wait(self.ctx, POLL_EVERY)

    def check(self) -> None:
        """One round: process exits, dispatch, stop requests; heartbeat timeouts and expired tokens when due."""
        for exited in self.ctx.runner.poll():
            jobs.job_exited(self.ctx, exited)
        self.dispatcher.run_once()
        jobs.forward_stops(self.ctx)
        now = time.monotonic()
        if now - self._last_heartbeat_check >= self.heartbeat_every:
            self._last_heartbeat_check = now
            jobs.mark_lost(self.ctx)
        if now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            purged = auth.purge_expired_tokens(self.ctx.db)
            if purged:
                log.info("Removed %d expired user tokens", purged)
