"""Reading progress metrics in answers whose size does not grow with the job.

Each series comes back as ``[step, value, time]`` rows ordered by step. A series with at most
``max_points`` points (in the asked range) comes back point for point. A longer one is cut into at most
``max_points / 2`` equal step buckets, aggregated in the database (``GROUP BY`` over the bucket
number, over the ``(job_id, name, step)`` index), and each bucket answers with two rows: its lowest
value at its first step and its highest value at its last step, so a spike survives however long the
series is. Buckets are narrower than a chart pixel; a step range (``start_step``/``end_step``) asks
for the finer picture of just that range, and point for point once it holds at most ``max_points``.

Polls pass the answer's ``cursor`` (the job's highest point row id) as ``after`` and read only the
rows added since, over the ``(job_id, id)`` index: an empty poll costs the same at 2 M points as at 2 k.

Values that are not finite (NaN, ±Infinity: older data, or PostgreSQL rows written by other tools)
are answered as null, as JSON has no such numbers.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Query
from sqlalchemy import ColumnElement, Select, case, func, literal_column, select, text
from sqlalchemy.orm import Session

from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database
from brevettiai.server.errors import ApiError

DEFAULT_MAX_POINTS = 2000
MAX_POINTS_LIMIT = 100_000  # the most rows per series one answer may hold (full resolution of a range)
POLL_WINDOW = 1_000_000  # a poll reads at most this many row ids past its cursor; the next poll reads on

_points = db.MetricPoint.__table__
_LARGEST = 1.7976931348623157e308  # a value between ±this is finite: NaN and ±Infinity are not

# The distinct names of a job's series by skipping through the (job_id, name, step) index, one probe
# per name, instead of reading every row of the job (both SQLite and PostgreSQL run this form).
_NAMES = text(
    "WITH RECURSIVE names(name) AS ("
    " SELECT (SELECT min(name) FROM metric_points WHERE job_id = :job)"
    " UNION ALL"
    " SELECT (SELECT min(name) FROM metric_points WHERE job_id = :job AND name > names.name)"
    " FROM names WHERE names.name IS NOT NULL)"
    " SELECT name FROM names WHERE name IS NOT NULL")


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _int(value: int) -> ColumnElement[Any]:
    # Bucket arithmetic is inlined, not bound: PostgreSQL accepts a GROUP BY expression only when it
    # is the same text as the selected one, and two placeholders are never the same text.
    return literal_column(str(int(value)))


class Filters:
    """Which of a job's point rows a read covers."""

    def __init__(self, job_id: str, *, names: list[str] | None = None, since: float | None = None,
                 after: int | None = None, start_step: int | None = None, end_step: int | None = None) -> None:
        self.job_id, self.names, self.since, self.after = job_id, names, since, after
        self.start_step, self.end_step = start_step, end_step

    def where(self, cursor: int, name: str | None = None) -> list[ColumnElement[bool]]:
        """The conditions for the rows up to `cursor` (of one series, if `name` is given)."""
        if self.after is None:
            # `id + 0`: the cursor bound must not lure the planner onto the (job_id, id) index when
            # the (job_id, name, step) one finds the series.
            conditions = [_points.c.job_id == self.job_id, (_points.c.id + 0) <= cursor]
        else:
            conditions = [_points.c.job_id == self.job_id, _points.c.id > self.after, _points.c.id <= cursor]
        if name is not None:
            conditions.append(_points.c.name == name)
        if self.since is not None:
            conditions.append(_points.c.time > self.since)
        if self.start_step is not None:
            conditions.append(_points.c.step >= self.start_step)
        if self.end_step is not None:
            conditions.append(_points.c.step <= self.end_step)
        return conditions

    def source(self, cursor: int, name: str | None = None) -> Any:
        """The rows a read covers, as a FROM clause with the table's columns."""
        rows = select(_points).where(*self.where(cursor, name))
        if self.after is not None:
            # A poll reads the rows after its cursor in id order, through the (job_id, id) index: the
            # limit (never reached: polls span at most POLL_WINDOW ids) keeps the databases from
            # merging this into the outer query and walking a whole series by name and step instead.
            rows = rows.order_by(_points.c.id).limit(POLL_WINDOW + 1)
        return rows.subquery("points")


def cursor_statement(job_id: str) -> Select[Any]:
    """The job's highest point row id (one probe of the (job_id, id) index)."""
    return select(_points.c.id).where(_points.c.job_id == job_id).order_by(_points.c.id.desc()).limit(1)


def tail_statement(filters: Filters, cursor: int) -> Select[Any]:
    """Per series: how many rows a poll finds after its cursor, and their step range."""
    rows = filters.source(cursor)
    stmt = select(rows.c.name, func.count(), func.min(rows.c.step), func.max(rows.c.step)).group_by(rows.c.name)
    if filters.names:
        stmt = stmt.where(rows.c.name.in_(filters.names))
    return stmt


def rows_statement(filters: Filters, cursor: int, name: str) -> Select[Any]:
    """Every point of one series, by step."""
    rows = filters.source(cursor, name)
    return select(rows.c.step, rows.c.value, rows.c.time).order_by(rows.c.step, rows.c.id)


def bucket_statement(filters: Filters, cursor: int, name: str, first_step: int, width: int) -> Select[Any]:
    """One series in buckets of `width` steps from `first_step`: count, step range, value range, time range."""
    rows = filters.source(cursor, name)
    # `/` of two integers is integer division in both databases (SQLAlchemy's `//` floors through floats).
    bucket = (rows.c.step - _int(first_step)).self_group().op("/")(_int(width)).label("bucket")
    finite = rows.c.value.between(literal_column(repr(-_LARGEST)), literal_column(repr(_LARGEST)))
    value = case((finite, rows.c.value))
    return (select(bucket, func.count(), func.min(rows.c.step), func.max(rows.c.step),
                   func.min(value), func.max(value), func.min(rows.c.time), func.max(rows.c.time))
            .group_by(bucket).order_by(bucket))


def edge_statement(filters: Filters, cursor: int, name: str, last: bool = False) -> Select[Any]:
    """The first (or last) step of one series."""
    step = _points.c.step.desc() if last else _points.c.step
    return select(_points.c.step).where(*filters.where(cursor, name)).order_by(step).limit(1)


def count_statement(filters: Filters, cursor: int, name: str, limit: int) -> Select[Any]:
    """How many rows one series has, counting no further than `limit`."""
    rows = select(_points.c.id).where(*filters.where(cursor, name)).limit(limit).subquery()
    return select(func.count()).select_from(rows)


def names_statement(job_id: str) -> Any:
    """The names of a job's series."""
    return _NAMES.bindparams(job=job_id)


def _step_range(session: Session, filters: Filters, cursor: int, name: str) -> tuple[int, int] | None:
    first = session.scalar(edge_statement(filters, cursor, name))
    if first is None:
        return None
    return int(first), int(session.scalar(edge_statement(filters, cursor, name, last=True)))


def _point_rows(session: Session, filters: Filters, cursor: int, name: str) -> list[list[Any]]:
    return [[step, _finite(value), _finite(stamp)]
            for step, value, stamp in session.execute(rows_statement(filters, cursor, name))]


def _bucket_rows(session: Session, filters: Filters, cursor: int, name: str, first: int,
                 width: int) -> tuple[list[list[Any]], int]:
    """The bucketed rows of one series and how many points they stand for."""
    rows: list[list[Any]] = []
    total = 0
    for _, count, low_step, high_step, low, high, early, late in session.execute(
            bucket_statement(filters, cursor, name, first, width)):
        total += count
        early, late = _finite(early), _finite(late)
        if count == 1 or low is None or low == high:
            rows.append([low_step, low, late])
        else:
            rows.append([low_step, low, early])
            rows.append([high_step, high, late])
    return rows, total


def _width(first: int, last: int, max_points: int) -> int:
    return max(1, math.ceil((last - first + 1) / max(1, max_points // 2)))


def read(database: Database, filters: Filters, max_points: int = DEFAULT_MAX_POINTS) -> dict[str, Any]:
    """The answer of a metrics read: ``series``, ``counts``, ``bucketSteps`` and ``cursor``.

    ``counts[name]`` is how many points the series has in the range read; ``bucketSteps[name]`` is 1
    when every point is in the answer, else the width of its buckets in steps.
    """
    series: dict[str, list[list[Any]]] = {}
    counts: dict[str, int] = {}
    bucket_steps: dict[str, int] = {}
    with database.read() as session:
        cursor = session.scalar(cursor_statement(filters.job_id))
        if cursor is None or (filters.after is not None and cursor <= filters.after):
            return _answer(series, counts, bucket_steps, filters.after if cursor is None else max(cursor, filters.after or 0))
        if filters.after is not None:
            cursor = min(cursor, filters.after + POLL_WINDOW)
            # A poll: the new rows are few and found by the (job_id, id) index; one pass sizes every series.
            plan = {name: (count, (first, last)) for name, count, first, last
                    in session.execute(tail_statement(filters, cursor))}
        else:
            wanted = filters.names or list(session.scalars(names_statement(filters.job_id)))
            plan = {}
            for name in wanted:
                span = _step_range(session, filters, cursor, name)
                if span is not None:
                    plan[name] = (int(session.scalar(count_statement(filters, cursor, name, max_points + 1))), span)
        for name in sorted(plan):
            count, (first, last) = plan[name]
            if count <= max_points:
                series[name] = _point_rows(session, filters, cursor, name)
                counts[name], bucket_steps[name] = len(series[name]), 1
            else:
                width = _width(first, last, max_points)
                series[name], counts[name] = _bucket_rows(session, filters, cursor, name, first, width)
                bucket_steps[name] = width
    return _answer(series, counts, bucket_steps, cursor)


def _answer(series: dict[str, list[list[Any]]], counts: dict[str, int], bucket_steps: dict[str, int],
            cursor: int | None) -> dict[str, Any]:
    return {"series": series, "counts": counts, "bucketSteps": bucket_steps, "cursor": cursor}


class ReadQuery:
    """The query parameters of a metrics read, shared by ``/api/<kind>s/<id>/metrics`` and the page's live.json."""

    def __init__(
        self,
        names: list[str] | None = Query(None, description="Metric names (repeat, or separate by commas)"),
        since: float | None = Query(None, description="Only points timed after this (epoch seconds). Reads "
                                                      "every row of the job: poll with `after` instead"),
        after: int | None = Query(None, ge=0, description="Only points stored after this `cursor` of an "
                                                          "earlier answer (polling for new points)"),
        start_step: int | None = Query(None, description="Only points at this step or later"),
        end_step: int | None = Query(None, description="Only points at this step or earlier"),
        max_points: int = Query(DEFAULT_MAX_POINTS, ge=2, le=MAX_POINTS_LIMIT,
                                description="Rows per series at most; a longer series comes back as "
                                            "min/max step buckets (see `bucketSteps`)"),
    ) -> None:
        if start_step is not None and end_step is not None and start_step > end_step:
            raise ApiError(422, [{"loc": ["query", "end_step"], "type": "value_error",
                                  "msg": f"end_step {end_step} is before start_step {start_step}"}])
        self.names = [n for item in names or [] for n in item.split(",") if n] or None
        self.since, self.after, self.start_step, self.end_step = since, after, start_step, end_step
        self.max_points = max_points

    def read(self, database: Database, job_id: str) -> dict[str, Any]:
        """The answer for one job."""
        filters = Filters(job_id, names=self.names, since=self.since, after=self.after,
                          start_step=self.start_step, end_step=self.end_step)
        return read(database, filters, self.max_points)
