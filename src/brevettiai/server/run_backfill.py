"""The one-time backfill of the runs table for jobs from before it: their output.json's metrics (and
their settings rows, should a job lack them).

Migration 0008 queues every job without a recorded output metric in ``run_output_backfill``. A
migration cannot do this work itself: output.json lives in the storage backend (a folder or S3),
which only the running server is configured for. So after the server starts, a background thread reads
the queued jobs' output.json a batch at a time, stores their metrics and removes them from the queue
in the same transaction. Start is never held up; a restart resumes where the queue stands; running it
twice (or on two replicas at once) stores the same values again, nothing more. If the storage cannot be
read (not "no such file": an error), the thread stops and leaves the rest queued for the next start.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import delete, func, select

from brevettiai.server import run_summary
from brevettiai.server.db import models as db

log = logging.getLogger("brevettiai.server.run_backfill")

BATCH = 200  # jobs per transaction
PAUSE = 0.02  # seconds between batches, so requests get the database lock in between (SQLite)


def _read_outputs(ctx: Any, job_id: str) -> dict[str, float | str]:
    """The job's output metrics from its output.json; none when the file is missing or not an output document.
    OSError (the storage failing) propagates."""
    try:
        document = json.loads(ctx.storage.read_bytes(job_id, run_summary.OUTPUT_FILE))
    except (FileNotFoundError, ValueError):
        return {}
    output = document.get("output") if isinstance(document, dict) else None
    return run_summary.flatten_outputs(output) if isinstance(output, dict) else {}


def backfill_batch(ctx: Any, batch: int = BATCH) -> tuple[int, int]:
    """Backfill up to `batch` queued jobs; returns (jobs taken off the queue, jobs that had outputs)."""
    with ctx.db.read() as session:
        queued = session.execute(
            select(db.RunOutputBackfill.job_id, db.Job.settings)
            .join(db.Job, db.Job.id == db.RunOutputBackfill.job_id)
            .order_by(db.RunOutputBackfill.job_id).limit(batch)).all()
    if not queued:
        return 0, 0
    outputs = {job_id: _read_outputs(ctx, job_id) for job_id, _ in queued}  # storage I/O outside the transaction
    ids = [job_id for job_id, _ in queued]
    with ctx.db.write() as session:
        with_settings = set(session.scalars(select(db.RunSetting.job_id).where(db.RunSetting.job_id.in_(ids))
                                            .distinct()))
        with_outputs = set(session.scalars(select(db.RunMetric.job_id).where(
            db.RunMetric.job_id.in_(ids), db.RunMetric.has_output.is_(True)).distinct()))
        for job_id, settings in queued:
            if job_id not in with_settings:
                run_summary.record_settings(session, job_id, settings)
            # A job that recorded its outputs since it was queued (it wrote output.json again) keeps those.
            if outputs[job_id] and job_id not in with_outputs:
                run_summary.store_outputs(session, job_id, outputs[job_id])
        session.execute(delete(db.RunOutputBackfill).where(db.RunOutputBackfill.job_id.in_(ids)))
    return len(ids), sum(1 for values in outputs.values() if values)


def queued_jobs(ctx: Any) -> int:
    """How many jobs wait for the backfill."""
    with ctx.db.read() as session:
        return session.scalar(select(func.count()).select_from(db.RunOutputBackfill)) or 0


class OutputBackfill:
    """A daemon thread that empties the backfill queue once, after the server starts."""

    def __init__(self, ctx: Any, batch: int = BATCH, pause: float = PAUSE) -> None:
        self.ctx = ctx
        self.batch = batch
        self.pause = pause
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start backfilling in the background (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="brevettiai-run-backfill", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current batch (what is left stays queued for the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            waiting = queued_jobs(self.ctx)
            if not waiting:
                return
            log.info("Reading the output.json of %d jobs from before the runs table (in the background)", waiting)
            begin, done, found = time.monotonic(), 0, 0
            while not self._stop.is_set():
                taken, had_outputs = backfill_batch(self.ctx, self.batch)
                if not taken:
                    break
                done, found = done + taken, found + had_outputs
                self._stop.wait(self.pause)
            log.info("Runs table backfill: %d jobs read, %d had output metrics (%.1f s)%s", done, found,
                     time.monotonic() - begin, "; stopped, the rest continues at the next start"
                     if self._stop.is_set() else "")
        except OSError as exc:
            log.warning("Runs table backfill stopped, the storage could not be read (%s); it continues at the "
                        "next start", exc)
        except Exception:  # the database went away: the queue stays for the next start
            log.exception("Runs table backfill stopped; it continues at the next start")
