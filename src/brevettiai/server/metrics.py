"""Progress metrics: fast ingestion with idempotent batches (reading them: `metric_reads`).

Batches are stored by one writer thread (`MetricsWriter`) that takes every batch waiting at that
moment into one transaction ("group commit"): many small batches from many jobs cost one commit,
and a large batch is one bulk insert. A batch id already stored for the job is answered with the
count stored the first time and not stored again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired

from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from brevettiai.server import run_summary
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.db.session import Database
from brevettiai.server.errors import ApiError, invalid, not_found
from brevettiai.server.wire_checks import INT64_MAX, INT64_MIN

log = logging.getLogger("brevettiai.server.metrics")

_points = db.MetricPoint.__table__
_batches = db.MetricBatch.__table__


# Steps are stored as 64-bit integers and times must be real instants; values may be NaN or
# infinite (a diverged loss is worth keeping as a gap: stored as null), see `_rows`.
_Step = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
_Time = Annotated[float, Field(allow_inf_nan=False)]
MAX_POINTS = 10_000  # per batch, as the SDK sends them; bytes are bounded by brevettiai.server.limits
MAX_VALUES = 1_000  # metric names per point


class _Point(TypedDict):
    step: _Step
    time: NotRequired[_Time | None]
    values: Annotated[dict[str, float | None], Field(max_length=MAX_VALUES)]


class _Batch(TypedDict):
    batchId: str
    points: Annotated[list[_Point], Field(max_length=MAX_POINTS)]


# Validating JSON bytes straight into dicts is several times faster than json.loads plus models.
_BATCH = TypeAdapter(_Batch)


def parse_batch(body: bytes) -> tuple[str, list[dict[str, Any]]]:
    """The batch id and points of a metrics request body; 422 naming what is wrong."""
    try:
        batch = _BATCH.validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                             for e in exc.errors(include_url=False)]) from None
    batch_id = batch["batchId"]
    if not 0 < len(batch_id) <= 64:
        raise ApiError(422, [{"loc": ["body", "batchId"], "msg": "must be 1 to 64 characters", "type": "value_error"}])
    return batch_id, batch["points"]  # type: ignore[return-value]


_COLUMNS = ("job_id", "step", "name", "value", "time")
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _rows(job_id: str, points: Iterable[Mapping[str, Any]], now: float) -> list[tuple[Any, ...]]:
    """One ``(job_id, step, name, value, time)`` row per value of each point."""
    rows = []
    for point in points:
        step, stamp = point["step"], point.get("time")
        stamp = now if stamp is None else stamp
        for name, value in point["values"].items():
            if value is not None and not math.isfinite(value):
                value = None  # JSON has no NaN/inf; keep the step, drop the value
            rows.append((job_id, step, name, value, stamp))
    return rows


def _insert_points(session: Any, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert point rows with the driver's executemany.

    Plain tuples through ``exec_driver_sql`` skip SQLAlchemy's per-row parameter processing, which
    otherwise costs as much as the insert itself.
    """
    run_summary.record_points(session, rows)  # the runs table's per-series summary, in the same transaction
    connection = session.connection()
    placeholder = _PLACEHOLDERS.get(connection.dialect.paramstyle)
    if placeholder is None:
        connection.execute(insert(_points), [dict(zip(_COLUMNS, row, strict=True)) for row in rows])
        return
    statement = (f"INSERT INTO {_points.name} ({', '.join(_COLUMNS)}) "
                 f"VALUES ({', '.join([placeholder] * len(_COLUMNS))})")
    connection.exec_driver_sql(statement, rows)


@dataclass
class _Pending:
    job_id: str
    batch_id: str
    points: list[dict[str, Any]]
    done: Callable[[int | BaseException], None]


def _store_group(database: Database, group: list[_Pending]) -> list[int | BaseException]:
    """Store a group of batches in one transaction; each one's accepted count, or its error."""
    now, created = time.time(), utcnow()
    with database.write() as session:
        job_ids = {item.job_id for item in group}
        existing = set(session.scalars(select(db.Job.id).where(db.Job.id.in_(job_ids))))
        seen = {(job, batch): accepted for job, batch, accepted in session.execute(
            select(_batches.c.job_id, _batches.c.batch_id, _batches.c.accepted)
            .where(_batches.c.job_id.in_(existing), _batches.c.batch_id.in_({i.batch_id for i in group})))}
        rows: list[tuple[Any, ...]] = []
        batches: list[dict[str, Any]] = []
        results: list[int | BaseException] = []
        for item in group:
            key = (item.job_id, item.batch_id)
            if item.job_id not in existing:
                results.append(not_found("job", item.job_id))
            elif key in seen:
                results.append(seen[key])
            else:
                seen[key] = len(item.points)
                rows.extend(_rows(item.job_id, item.points, now))
                batches.append({"job_id": item.job_id, "batch_id": item.batch_id, "accepted": len(item.points),
                                "created": created})
                results.append(len(item.points))
        if rows:
            _insert_points(session, rows)
        if batches:
            session.execute(insert(_batches), batches)
    return results


class MetricsWriter:
    """The thread that stores metric batches, as many per transaction as are waiting."""

    MAX_GROUP_ROWS = 50_000

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="brevettiai-metrics", daemon=True)
        self._thread.start()

    async def submit(self, job_id: str, batch_id: str, points: list[dict[str, Any]]) -> int:
        """Store a batch; returns how many points were accepted (also for a batch seen before)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()

        def settle(result: int | BaseException) -> None:
            if not future.done():
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

        self._queue.put(_Pending(job_id, batch_id, points, lambda r: loop.call_soon_threadsafe(settle, r)))
        return await future

    def close(self) -> None:
        """Store what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            group, size = [first], len(first.points)
            while size < self.MAX_GROUP_ROWS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                group.append(item)
                size += len(item.points)
            self._store(group)

    def _store(self, group: list[_Pending]) -> None:
        try:
            results = _store_group(self.database, group)
        except Exception:
            # One bad batch (or a race with a delete) must not fail the others: store them one by one.
            results = []
            for item in group:
                try:
                    results.append(ingest(self.database, item.job_id, item.batch_id, item.points))
                except Exception as exc:
                    results.append(exc)
        for item, result in zip(group, results, strict=True):
            item.done(result)


def ingest(database: Database, job_id: str, batch_id: str, points: list[Mapping[str, Any]]) -> int:
    """Store one batch of points ({step, time, values}) in its own transaction, once per batch id."""
    rows = _rows(job_id, points, time.time())
    try:
        with database.write() as session:
            if session.get(db.Job, job_id) is None:
                raise not_found("job", job_id)
            seen = session.get(db.MetricBatch, (job_id, batch_id))
            if seen is not None:
                return seen.accepted
            if rows:
                _insert_points(session, rows)
            session.add(db.MetricBatch(job_id=job_id, batch_id=batch_id, accepted=len(points)))
    except IntegrityError:
        # The same batch arrived twice at once (PostgreSQL): the first one stored it.
        with database.read() as session:
            seen = session.get(db.MetricBatch, (job_id, batch_id))
        if seen is None:
            raise
        return seen.accepted
    return len(points)


def ingest_remote_monitor(database: Database, job_id: str, logs: Mapping[str, Any]) -> int:
    """The original SDK's remote monitor: ``{"epoch": n, ...numbers}`` as one point at step n."""
    epoch = logs.get("epoch")
    numeric = isinstance(epoch, int | float) and not isinstance(epoch, bool)
    if numeric and not (math.isfinite(epoch) and INT64_MIN <= epoch <= INT64_MAX):
        raise invalid(["body", "epoch"], "the epoch must be a finite step number within the 64-bit range")
    step = int(epoch) if numeric else 0
    values = {name: float(value) for name, value in logs.items()
              if name != "epoch" and isinstance(value, int | float) and not isinstance(value, bool)}
    rows = _rows(job_id, [{"step": step, "values": values}], time.time())
    with database.write() as session:
        if session.get(db.Job, job_id) is None:
            raise not_found("job", job_id)
        if rows:
            _insert_points(session, rows)
    return 1 if values else 0

