"""Progress metrics: fast ingestion with idempotent batches (reading them: `metric_reads`).

Batches are stored by one writer thread (`MetricsWriter`) that takes every batch waiting at that
moment into one transaction ("group commit"): many small batches from many jobs cost one commit,
and a large batch is one bulk insert. A batch id already stored for the job is answered with the
count stored the first time and not stored again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Annotated, Any, NotRequired, cast

from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from brevettiai.contract import reports
from brevettiai.server import metric_blocks, metric_series, run_summary
from brevettiai.server.db import models as db
from brevettiai.server.db.models import utcnow
from brevettiai.server.db.prepared import Executor, Prepared, connection_of
from brevettiai.server.db.session import Database
from brevettiai.server.errors import ApiError, invalid, not_found
from brevettiai.server.metric_blocks import Summaries
from brevettiai.server.wire_checks import INT64_MAX, INT64_MIN

log = logging.getLogger("brevettiai.server.metrics")

_points = cast(Table, db.MetricPoint.__table__)
_batches = cast(Table, db.MetricBatch.__table__)


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


# The columnar form of a batch: one list per field instead of one object per point, several times
# cheaper to encode, parse and turn into rows. ``series`` maps each metric name to one value per step;
# null is "no value at this step" (no row), NaN/Infinity a stored null like in the point form.
COLUMNS_CONTENT_TYPE = reports.COLUMNS_CONTENT_TYPE
_Values = Annotated[list[float | None], Field(max_length=MAX_POINTS)]


class _ColumnBatch(TypedDict):
    batchId: str
    steps: Annotated[list[_Step], Field(max_length=MAX_POINTS)]
    times: NotRequired[Annotated[list[_Time | None], Field(max_length=MAX_POINTS)] | None]
    series: Annotated[dict[str, _Values], Field(max_length=MAX_VALUES)]


_COLUMN_BATCH = TypeAdapter(_ColumnBatch)


@dataclass(frozen=True, slots=True)
class Columns:
    """A parsed columnar batch; its length is its number of points (steps)."""

    steps: list[int]
    times: list[float | None] | None
    series: dict[str, list[float | None]]

    def __len__(self) -> int:
        return len(self.steps)


Points = list[dict[str, Any]] | Columns


def _unprocessable(loc: list[Any], msg: str) -> ApiError:
    return ApiError(422, [{"loc": ["body", *loc], "msg": msg, "type": "value_error"}])


def parse_columns(body: bytes) -> tuple[str, Columns]:
    """The batch id and columns of a columnar metrics body; 422 naming what is wrong."""
    try:
        batch = _COLUMN_BATCH.validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                             for e in exc.errors(include_url=False)]) from None
    batch_id, steps = batch["batchId"], batch["steps"]
    if not 0 < len(batch_id) <= 64:
        raise _unprocessable(["batchId"], "must be 1 to 64 characters")
    times = batch.get("times")
    if times is not None and len(times) != len(steps):
        raise _unprocessable(["times"], f"must have one entry per step ({len(steps)}), has {len(times)}")
    for name, values in batch["series"].items():
        if len(values) != len(steps):
            raise _unprocessable(["series", name], f"must have one value per step ({len(steps)}), has {len(values)}")
    return batch_id, Columns(steps, times, batch["series"])


def _all_finite(values: list[float | None]) -> bool:
    """True when every value is a finite number (one C-speed pass; False on null, NaN or ±Infinity)."""
    try:
        return math.isfinite(math.fsum(values))  # type: ignore[arg-type]  # NaN/inf propagate; inf - inf and overflow raise
    except (TypeError, ValueError, OverflowError):
        return False


def _interleaved(series_id: int, steps: list[int], values: list[Any], stamps: list[float]) -> list[Any]:
    """``series_id, step, value, time`` of each row in one flat list (by slices, at C speed)."""
    flat: list[Any] = [series_id] * (_ROW_WIDTH * len(steps))
    flat[1::_ROW_WIDTH], flat[2::_ROW_WIDTH], flat[3::_ROW_WIDTH] = steps, values, stamps
    return flat


def _column_rows(job_id: str, batch: Columns, now: float, summaries: Summaries,
                 ids: Mapping[str, int]) -> list[Any]:
    """The rows of a columnar batch as one flat parameter list (`_interleaved`), series after series
    (each in step order, as sent)."""
    steps = batch.steps
    times: list[float] | None = None
    if batch.times is not None:
        times = [now if t is None else t for t in batch.times] if None in batch.times else batch.times  # type: ignore[assignment]
    flat: list[Any] = []
    for name, values in batch.series.items():
        series_id = ids[name]
        if _all_finite(values) and summaries.add_series(job_id, name, steps, values, times, now):  # type: ignore[arg-type]
            flat += _interleaved(series_id, steps, values, [now] * len(steps) if times is None else times)
            continue
        stamps: Iterable[float] = repeat(now) if times is None else times
        part = [(job_id, step, name, value if math.isfinite(value) else None, stamp)
                for step, value, stamp in zip(steps, values, stamps, strict=False) if value is not None]
        summaries.add_rows(part)
        flat += _interleaved(series_id, [row[1] for row in part], [row[3] for row in part], [row[4] for row in part])
    return flat


_COLUMNS = ("series_id", "step", "value", "time")
_ROW_WIDTH = len(_COLUMNS)
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# Rows per INSERT on SQLite: one statement of many rows costs under half of what executemany of single
# rows costs (the statement's per-row setup). 500 rows are 2,000 parameters; SQLite builds from
# before 3.32 allow only 999 (`_rows_per_insert`).
ROWS_PER_INSERT = 500


def _names(points: Points) -> set[str]:
    if isinstance(points, Columns):
        return set(points.series)
    return {name for point in points for name in point["values"]}


def _rows(job_id: str, points: Iterable[Mapping[str, Any]] | Columns, now: float, summaries: Summaries,
          ids: Mapping[str, int]) -> list[Any]:
    """The point rows (one per value of each point) as one flat parameter list of ``series_id, step,
    value, time``, summed up into `summaries` too."""
    if isinstance(points, Columns):
        return _column_rows(job_id, points, now, summaries, ids)
    rows = []
    for point in points:
        step, stamp = point["step"], point.get("time")
        stamp = now if stamp is None else stamp
        for name, value in point["values"].items():
            if value is not None and not math.isfinite(value):
                value = None  # JSON has no NaN/inf; keep the step, drop the value
            rows.append((job_id, step, name, value, stamp))
    summaries.add_rows(rows)
    return [field for _, step, name, value, stamp in rows for field in (ids[name], step, value, stamp)]


def _rows_per_insert(connection: Any) -> int:
    """Rows per multi-row INSERT within SQLite's limit on parameters of one statement."""
    limit = 999
    with contextlib.suppress(AttributeError, sqlite3.Error):  # getlimit: Python 3.11+
        limit = connection.connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(ROWS_PER_INSERT, limit // _ROW_WIDTH))


@functools.lru_cache(maxsize=64)
def _insert_sql(placeholder: str, rows: int) -> str:
    values = "(" + ", ".join([placeholder] * _ROW_WIDTH) + ")"
    return f"INSERT INTO {_points.name} ({', '.join(_COLUMNS)}) VALUES {', '.join([values] * rows)}"


def _insert_points(connection: Any, flat: list[Any]) -> None:
    """Insert the flat rows (`_interleaved`) in their order (row ids ascend as before): on SQLite in
    statements of many rows each; elsewhere by executemany of one row each (psycopg sends those in a
    pipeline, and spent 1.5x the CPU on the same rows as multi-row statements)."""
    rows = zip(*[iter(flat)] * _ROW_WIDTH, strict=True)
    placeholder = _PLACEHOLDERS.get(connection.dialect.paramstyle)
    if placeholder is None:
        connection.execute(insert(_points), [dict(zip(_COLUMNS, row, strict=True)) for row in rows])
        return
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql(_insert_sql(placeholder, 1), list(rows))
        return
    per = _rows_per_insert(connection)
    width, full = per * _ROW_WIDTH, _insert_sql(placeholder, per)
    for start in range(0, len(flat), width):
        part = tuple(flat[start:start + width])
        connection.exec_driver_sql(full if len(part) == width else _insert_sql(placeholder, len(part) // _ROW_WIDTH),
                                   part)


def _store_points(session: Executor, batches: list[tuple[str, Points]], now: float) -> None:
    """Store batches of points ``(job_id, points)``, with their series, blocks and run summaries.

    The jobs' block marks are locked first (`metric_blocks.prepare`): writers of one job take turns,
    also in creating its series. Plain parameters through ``exec_driver_sql`` skip SQLAlchemy's
    per-row parameter processing, which otherwise costs as much as the insert itself.
    """
    jobs = sorted({job_id for job_id, _ in batches})
    if not jobs:
        return
    metric_blocks.prepare(session, jobs)
    names: dict[str, set[str]] = {job_id: set() for job_id in jobs}
    for job_id, points in batches:
        names[job_id] |= _names(points)
    ids = {job_id: metric_series.ids(session, job_id, names[job_id]) for job_id in jobs}
    summaries = Summaries()
    flat: list[Any] = []
    for job_id, points in batches:
        flat += _rows(job_id, points, now, summaries, ids[job_id])
    if not flat:
        return
    run_summary.record_series(session, summaries.series())  # the runs table's per-series summary
    _insert_points(connection_of(session), flat)
    metric_blocks.add_points(session, summaries)


@dataclass(slots=True)
class _Pending:
    job_id: str
    batch_id: str
    points: Points
    future: asyncio.Future[int]


def _settle(outcomes: list[tuple[asyncio.Future[int], int | BaseException]]) -> None:
    """Resolve the futures of a stored group (on their event loop: one wake-up per group, not per request)."""
    for future, result in outcomes:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


@functools.lru_cache(maxsize=256)
def _seen_statement(jobs: int, batches: int) -> Prepared:
    """The stored batches among `jobs` job ids (``j0``...) and `batches` batch ids (``b0``...), a
    statement per group shape (at most a few dozen: the group's job and batch counts)."""
    return Prepared(lambda _: select(_batches.c.job_id, _batches.c.batch_id, _batches.c.accepted)
                    .where(_batches.c.job_id.in_([bindparam(f"j{i}") for i in range(jobs)]),
                           _batches.c.batch_id.in_([bindparam(f"b{i}") for i in range(batches)])))


_INSERT_BATCH = Prepared(lambda _: insert(_batches).values(
    job_id=bindparam("job_id"), batch_id=bindparam("batch_id"), accepted=bindparam("accepted"),
    created=bindparam("created")))


def _created(connection: Any) -> Any:
    """Now as the batch table's ``created`` parameter for the driver (SQLite stores the text SQLAlchemy writes)."""
    process = _batches.c.created.type.bind_processor(connection.dialect)
    return process(utcnow()) if process else utcnow()


def _store_group(database: Database, group: list[_Pending]) -> list[int | BaseException]:
    """Store a group of batches in one transaction; each one's accepted count, or its error.

    On a Core connection with statements compiled once (`Prepared`): for a group of 1-point batches
    an ORM session and SQLAlchemy's statement building cost more than SQLite's own work.
    """
    now = time.time()
    jobs, batch_ids = sorted({i.job_id for i in group}), sorted({i.batch_id for i in group})
    # A job deleted meanwhile is not looked up first: its rows break the foreign key, the transaction
    # fails, and MetricsWriter stores the group again batch by batch (`ingest` answers 404 for it).
    with database.write_connection() as connection:
        params = {f"j{n}": job_id for n, job_id in enumerate(jobs)}
        params.update((f"b{n}", batch_id) for n, batch_id in enumerate(batch_ids))
        rows: Any = _seen_statement(len(jobs), len(batch_ids)).execute(connection, params)
        seen = {(job, batch): accepted for job, batch, accepted in rows}
        created = _created(connection)
        stored: list[tuple[str, Points]] = []
        batches: list[dict[str, Any]] = []
        results: list[int | BaseException] = []
        for item in group:
            key = (item.job_id, item.batch_id)
            if key in seen:
                results.append(seen[key])
            else:
                seen[key] = len(item.points)
                stored.append((item.job_id, item.points))
                batches.append({"job_id": item.job_id, "batch_id": item.batch_id, "accepted": len(item.points),
                                "created": created})
                results.append(len(item.points))
        _store_points(connection, stored, now)
        if batches:
            _INSERT_BATCH.execute(connection, batches)
    return results


class MetricsWriter:
    """The thread that stores metric batches, as many per transaction as are waiting."""

    MAX_GROUP_ROWS = 50_000

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="brevettiai-metrics", daemon=True)
        self._thread.start()

    async def submit(self, job_id: str, batch_id: str, points: Points) -> int:
        """Store a batch; returns how many points were accepted (also for a batch seen before)."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put(_Pending(job_id, batch_id, points, future))
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
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | BaseException]]] = {}
        for item, result in zip(group, results, strict=True):
            by_loop.setdefault(item.future.get_loop(), []).append((item.future, result))
        for loop, outcomes in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, outcomes)
            except RuntimeError:  # that loop is closed: nobody waits for these answers any more
                pass


def ingest(database: Database, job_id: str, batch_id: str, points: Points) -> int:
    """Store one batch of points ({step, time, values}) in its own transaction, once per batch id."""
    now = time.time()
    try:
        with database.write() as session:
            if session.get(db.Job, job_id) is None:
                raise not_found("job", job_id)
            seen = session.get(db.MetricBatch, (job_id, batch_id))
            if seen is not None:
                return seen.accepted
            _store_points(session, [(job_id, points)], now)
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
    step = 0
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        if not (math.isfinite(epoch) and INT64_MIN <= epoch <= INT64_MAX):
            raise invalid(["body", "epoch"], "the epoch must be a finite step number within the 64-bit range")
        step = int(epoch)
    values = {name: float(value) for name, value in logs.items()
              if name != "epoch" and isinstance(value, int | float) and not isinstance(value, bool)}
    now = time.time()
    with database.write() as session:
        if session.get(db.Job, job_id) is None:
            raise not_found("job", job_id)
        _store_points(session, [(job_id, [{"step": step, "values": values}])], now)
    return 1 if values else 0

