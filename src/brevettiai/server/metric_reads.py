"""Reading progress metrics in answers whose size does not grow with the job.

Each series comes back as ``[step, value, time]`` rows ordered by step. A series with at most
``max_points`` points (in the asked range) comes back point for point. A longer one is cut into
buckets of equal step width, at most ``max_points / 2`` of them, aggregated in the database, and each
bucket answers with two rows: its lowest value at its first step and its highest value at its last
step, so a spike survives however long the series is. Buckets are narrower than a chart pixel; a step
range (``start_step``/``end_step``) asks for the finer picture of just that range, and point for point
once it holds at most ``max_points``.

Where buckets are at least `metric_blocks.BLOCK_STEPS` wide they are summed from the series' blocks
(`metric_blocks`, kept by the transactions that store the points), plus the points not summed up
(stored some other way) and, for a step range, the points of its two partial blocks, all read in one
snapshot: the read costs about the same at 2 M points as at 200 k. The blocks of every series of
a job read at one bucket width come in one statement, as the driver's tuples (a 100k-point series
is ~1,600 blocks: SQLAlchemy rows cost more than the database did). Narrower buckets are
``GROUP BY`` over the ``(series_id, step)`` index, over a range of at most ``BLOCK_STEPS * max_points / 2``
steps.

Polls pass the answer's ``cursor`` (the job's highest point row id) as ``after`` and read only the
rows added since, over the ``(series_id, id)`` index: an empty poll costs the same at 2 M points as at 2 k.

Values that are not finite (NaN, ±Infinity: older data, or PostgreSQL rows written by other tools)
are answered as null, as JSON has no such numbers.

Answers of reads that are not polls are kept (`AnswerCache`, bounded, one per server: `ServerContext.metric_answers`)
by what decides them: the query and the job's newest point id and block mark, both read from the database first.
Points of a job only ever come with higher ids, in transactions that take turns per job (`metric_blocks`),
so a new point anywhere, stored by any replica, changes the key: a kept answer is never stale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any, cast

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Select, Table, func, select
from sqlalchemy.orm import Session

from brevettiai.server import metric_series
from brevettiai.server.answer_cache import AnswerCache, AnswerKey
from brevettiai.server.context import ServerContext, get_context
from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database
from brevettiai.server.errors import ApiError
from brevettiai.server.metric_blocks import BLOCK_STEPS, catch_up, finite, floor_div, rolled_up

DEFAULT_MAX_POINTS = 2000
MAX_POINTS_LIMIT = 100_000  # the most rows per series one answer may hold (full resolution of a range)
POLL_WINDOW = 1_000_000  # a poll reads at most this many row ids past its cursor; the next poll reads on
ROLL_UP_BEHIND = 20_000  # a read first sums up the job's points when more ids than this are not yet in blocks

_points = cast(Table, db.MetricPoint.__table__)
_blocks = cast(Table, db.MetricBlock.__table__)

Bucket = tuple[int, int, int, int, float | None, float | None, float, float]  # key, count, steps, values, times


def answer_key(filters: Filters, max_points: int, newest: int, mark: int) -> AnswerKey:
    """What decides the answer of a read that is not a poll: the query, the job's newest point id and mark."""
    return (filters.job_id, None if filters.names is None else tuple(sorted(set(filters.names))),
            filters.start_step, filters.end_step, max_points, newest, mark)


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


class Filters:
    """Which of a job's point rows a read covers.

    Reads first look up the ids of the job's series (`resolved`, in the snapshot that also finds the
    cursor): PostgreSQL then plans each statement knowing which series it reads and how long it is.
    """

    def __init__(self, job_id: str, *, names: list[str] | None = None, since: float | None = None,
                 after: int | None = None, start_step: int | None = None, end_step: int | None = None,
                 ids: dict[str, int] | None = None) -> None:
        self.job_id, self.names, self.since, self.after = job_id, names, since, after
        self.start_step, self.end_step = start_step, end_step
        self.ids = ids  # series id by name (None: looked up by each statement)

    def resolved(self, session: Session) -> Filters:
        """The same filters with the ids of the job's series (of `names`) looked up."""
        series = metric_series.series_table
        statement = select(series.c.name, series.c.id).where(series.c.job_id == self.job_id)
        if self.names:
            statement = statement.where(series.c.name.in_(self.names))
        return self.but(ids={name: id_ for name, id_ in session.execute(statement)})

    def _series(self, name: str | None) -> ColumnElement[bool]:
        if self.ids is None:
            return (_points.c.series_id == metric_series.one(self.job_id, name) if name is not None
                    else metric_series.in_job(self.job_id, self.names))
        if name is not None:
            return _points.c.series_id == self.ids.get(name, -1)  # -1: no such series, no rows
        return _points.c.series_id.in_(sorted(self.ids.values()))

    def where(self, cursor: int, name: str | None = None) -> list[ColumnElement[bool]]:
        """The conditions for the rows up to `cursor` (of one series, if `name` is given)."""
        series = self._series(name)
        if self._by_id:
            conditions = [series, _points.c.id > (self.after or 0), _points.c.id <= cursor]
        else:
            # `id + 0`: the cursor bound must not lure the planner onto the (series_id, id) index when
            # the (series_id, step) one finds the series.
            conditions = [series, (_points.c.id + 0) <= cursor]
        if self.since is not None:
            conditions.append(_points.c.time > self.since)
        if self.start_step is not None:
            conditions.append(_points.c.step >= self.start_step)
        if self.end_step is not None:
            conditions.append(_points.c.step <= self.end_step)
        return conditions

    @property
    def _by_id(self) -> bool:
        # Polls read the few rows after their cursor; a filter on time reads every row of the job, best
        # in the order they were stored.
        return self.after is not None or self.since is not None

    def but(self, **changes: Any) -> Filters:
        """The same filters with some changed."""
        values = {"names": self.names, "since": self.since, "after": self.after, "start_step": self.start_step,
                  "end_step": self.end_step, "ids": self.ids, **changes}
        if "names" in changes and self.ids is not None and changes["names"] is not None:
            values["ids"] = {name: id_ for name, id_ in self.ids.items() if name in changes["names"]}
        return Filters(self.job_id, **values)

    def source(self, cursor: int, name: str | None = None) -> Any:
        """The rows a read covers, as a FROM clause with the table's columns."""
        rows = select(_points).where(*self.where(cursor, name))
        if self._by_id:
            # The rows after a cursor (or all, filtered by time), in id order through the (series_id, id)
            # index: the limit (never reached: there are no more ids in the range) keeps the databases
            # from merging this into the outer query and walking a series by name and step instead.
            rows = rows.order_by(_points.c.id).limit(max(1, cursor - (self.after or 0)))
        return rows.subquery("points")


def cursor_statement(job_id: str) -> Select[Any]:
    """The job's highest point row id (one probe of the (series_id, id) index per series)."""
    return metric_series.newest_statement(job_id)


def tail_statement(filters: Filters, cursor: int) -> Select[Any]:
    """Per series (by id): how many rows a poll finds after its cursor, and their step range."""
    rows = filters.source(cursor)
    return select(rows.c.series_id, func.count(), func.min(rows.c.step), func.max(rows.c.step)).group_by(rows.c.series_id)


def _tail(session: Session, filters: Filters, cursor: int) -> Iterable[tuple[str, int, int, int]]:
    """The rows of `tail_statement` by series name (`filters` resolved)."""
    names = {id_: name for name, id_ in (filters.ids or {}).items()}
    for series_id, count, first, last in session.execute(tail_statement(filters, cursor)):
        yield names[series_id], count, first, last


def rows_statement(filters: Filters, cursor: int, name: str) -> Select[Any]:
    """Every point of one series, by step."""
    rows = filters.source(cursor, name)
    return select(rows.c.step, rows.c.value, rows.c.time).order_by(rows.c.step, rows.c.id)


def bucket_statement(filters: Filters, cursor: int, name: str, width: int) -> Select[Any]:
    """One series in buckets of `width` steps (bucket k: steps k * width to (k + 1) * width - 1):
    count, step range, value range, time range."""
    rows = filters.source(cursor, name)
    bucket = floor_div(rows.c.step, width).label("bucket")
    value = finite(rows.c.value)
    return (select(bucket, func.count(), func.min(rows.c.step), func.max(rows.c.step),
                   func.min(value), func.max(value), func.min(rows.c.time), func.max(rows.c.time))
            .group_by(bucket).order_by(bucket))


def block_range(filters: Filters) -> tuple[int | None, int | None]:
    """The first and last block wholly inside the filters' step range (None: unbounded)."""
    first = None if filters.start_step is None else -((-filters.start_step) // BLOCK_STEPS)
    last = None if filters.end_step is None else (filters.end_step + 1) // BLOCK_STEPS - 1
    return first, last


def _in_blocks(filters: Filters, first: int | None, last: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_blocks.c.job_id == filters.job_id]
    if filters.names:
        conditions.append(_blocks.c.name.in_(filters.names))
    if first is not None:
        conditions.append(_blocks.c.block >= first)
    if last is not None:
        conditions.append(_blocks.c.block <= last)
    return conditions


def block_sizes_statement(filters: Filters) -> Select[Any]:
    """Per series, from its blocks that touch the step range: points, first and last step."""
    first, last = filters.start_step, filters.end_step
    touching = _in_blocks(filters, None if first is None else first // BLOCK_STEPS,
                          None if last is None else last // BLOCK_STEPS)
    return (select(_blocks.c.name, func.sum(_blocks.c.count), func.min(_blocks.c.min_step), func.max(_blocks.c.max_step))
            .where(*touching).group_by(_blocks.c.name))


def block_bucket_statement(filters: Filters, names: list[str], width: int) -> Select[Any]:
    """Series of one run in buckets of `width` steps (a multiple of BLOCK_STEPS) from their blocks wholly in
    the range, by name and bucket: one statement for every series of a run read at the same width."""
    first, last = block_range(filters)
    bucket = floor_div(_blocks.c.block, width // BLOCK_STEPS).label("bucket")
    return (select(_blocks.c.name, bucket, func.sum(_blocks.c.count), func.min(_blocks.c.min_step),
                   func.max(_blocks.c.max_step), func.min(_blocks.c.min_value), func.max(_blocks.c.max_value),
                   func.min(_blocks.c.min_time), func.max(_blocks.c.max_time))
            .where(*_in_blocks(filters.but(names=None), first, last), _blocks.c.name.in_(sorted(names)))
            .group_by(_blocks.c.name, bucket).order_by(_blocks.c.name, bucket))


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
    return metric_series.names_statement(job_id)


def _step_range(session: Session, filters: Filters, cursor: int, name: str) -> tuple[int, int] | None:
    first = session.scalar(edge_statement(filters, cursor, name))
    if first is None:
        return None
    return int(first), int(session.scalar(edge_statement(filters, cursor, name, last=True)))


def _point_rows(session: Session, filters: Filters, cursor: int, name: str) -> list[list[Any]]:
    return [[step, _finite(value), _finite(stamp)]
            for step, value, stamp in session.execute(rows_statement(filters, cursor, name))]


def _merge(parts: Iterable[Iterable[Any]]) -> list[Bucket]:
    """Buckets of the same key from several sources (blocks, points) as one."""
    merged: dict[int, list[Any]] = {}

    def pick(choose: Any, a: Any, b: Any) -> Any:
        return b if a is None else a if b is None else choose(a, b)

    for part in parts:
        for key, count, low_step, high_step, low, high, early, late in part:
            seen = merged.get(key)
            if seen is None:
                merged[key] = [key, int(count), low_step, high_step, low, high, early, late]
            else:
                seen[1] += int(count)
                seen[2], seen[3] = min(seen[2], low_step), max(seen[3], high_step)
                seen[4], seen[5] = pick(min, seen[4], low), pick(max, seen[5], high)
                seen[6], seen[7] = pick(min, seen[6], early), pick(max, seen[7], late)
    return [tuple(merged[key]) for key in sorted(merged)]


def _bucket_rows(buckets: Sequence[Sequence[Any]], first: int = 0) -> tuple[list[list[Any]], int]:
    """The answer rows of `buckets[first:]` (Bucket tuples, or their rows after a leading column when `first`
    is 1), and how many points they stand for."""
    if first:
        buckets = [row[first:] for row in buckets]
    rows: list[list[Any]] = []
    add = rows.append
    try:  # one pass at C speed instead of two checks per bucket (times are never null, seldom not finite)
        times_finite = all(map(math.isfinite, map(itemgetter(6), buckets))) and all(
            map(math.isfinite, map(itemgetter(7), buckets)))
    except TypeError:
        times_finite = False
    if times_finite:
        for _, count, low_step, high_step, low, high, early, late in buckets:
            if count == 1 or low is None or low == high:
                add([low_step, low, late])
            else:
                add([low_step, low, early])
                add([high_step, high, late])
    else:
        for _, count, low_step, high_step, low, high, early, late in buckets:
            if count == 1 or low is None or low == high:
                add([low_step, low, _finite(late)])
            else:
                add([low_step, low, _finite(early)])
                add([high_step, high, _finite(late)])
    return rows, int(sum(map(itemgetter(1), buckets)))  # PostgreSQL sums bigints as numeric


def _width(first: int, last: int, max_points: int) -> int:
    # Buckets sit at multiples of their width, so the span may touch one more than it divides into.
    return max(1, math.ceil((last - first + 1) / max(1, max_points // 2 - 1)))


def _edges(filters: Filters) -> list[Filters]:
    """The step ranges of the range's partial blocks at either end (None: no range on that side)."""
    first, last = block_range(filters)
    edges = []
    if filters.start_step is not None and first is not None:
        edges.append(filters.but(end_step=first * BLOCK_STEPS - 1 if filters.end_step is None
                                 else min(filters.end_step, first * BLOCK_STEPS - 1)))
    if filters.end_step is not None and last is not None:
        start = (last + 1) * BLOCK_STEPS
        if filters.start_step is None or start > edges[0].end_step:  # type: ignore[operator]
            edges.append(filters.but(start_step=max(start, filters.start_step or start)))
    return [edge for edge in edges if edge.start_step is None or edge.end_step is None
            or edge.start_step <= edge.end_step]


def _driver_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of a statement as the database driver's tuples: thousands of bucket rows cost a third of
    the CPU they take as SQLAlchemy rows (no result processing: for columns that need none)."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[key] for key in compiled.positiontup)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _from_blocks(session: Session, filters: Filters, mark: int, cursor: int, names: list[str],
                 width: int) -> dict[str, list[Bucket]]:
    """Series' buckets by name: their blocks (one statement), the points of partial blocks at the range's
    ends, the points after `mark`."""
    found: dict[str, list[Any]] = {name: [] for name in names}
    for name, group in groupby(_driver_rows(session, block_bucket_statement(filters, names, width)),
                               key=itemgetter(0)):
        found[name] = [row[1:] for row in group]
    edges = _edges(filters)
    if not edges and cursor <= mark:
        return found  # the blocks hold every point read: their buckets as they are
    buckets: dict[str, list[Bucket]] = {}
    for name in names:
        parts: list[Iterable[Any]] = [found[name]]
        for edge in edges:
            parts.append(session.execute(bucket_statement(edge, mark, name, width)).all())
        if cursor > mark:
            parts.append(session.execute(bucket_statement(filters.but(after=mark), cursor, name, width)).all())
        buckets[name] = _merge(parts)
    return buckets


def _sizes(session: Session, filters: Filters, cursor: int, mark: int) -> dict[str, tuple[int, int, int]]:
    """Per series: (points, first step, last step) in the range, from its blocks and the points after
    `mark`; the count may include points of the two partial blocks outside the range (an upper bound)."""
    sizes: dict[str, tuple[int, int, int]] = {}
    parts: list[Iterable[Any]] = [session.execute(block_sizes_statement(filters))]
    if cursor > mark:
        parts.append(_tail(session, filters.but(after=mark), cursor))
    for part in parts:
        for name, count, first, last in part:
            if not count:
                continue
            if filters.start_step is not None:
                first = max(first, filters.start_step)
            if filters.end_step is not None:
                last = min(last, filters.end_step)
            seen = sizes.get(name)
            sizes[name] = (int(count), first, last) if seen is None else (
                seen[0] + int(count), min(seen[1], first), max(seen[2], last))
    return sizes


def read(database: Database, filters: Filters, max_points: int = DEFAULT_MAX_POINTS,
         answers: AnswerCache | None = None) -> dict[str, Any]:
    """The answer of a metrics read: ``series``, ``counts``, ``bucketSteps`` and ``cursor``.

    ``counts[name]`` is how many points the series has in the range read; ``bucketSteps[name]`` is 1
    when every point is in the answer, else the width of its buckets in steps. `answers`: the server's
    kept answers (`ServerContext.metric_answers`) to look in and add to; None: none kept.
    """
    # The newest id and the mark may be of two moments here (no snapshot: polls stay two probes): a pair that
    # never existed matches no kept answer (those are keyed in `_read`'s snapshot); one that did held when this
    # read began (both only grow).
    with database.read() as session:
        cursor = session.scalar(cursor_statement(filters.job_id))
        if cursor is None or (filters.after is not None and cursor <= filters.after):
            return _answer({}, {}, {}, filters.after if cursor is None else max(cursor, filters.after or 0))
        mark = rolled_up(session, filters.job_id)
    if filters.after is not None or filters.since is not None:
        return _read(database, filters, max_points, cursor, None)
    if cursor - mark > ROLL_UP_BEHIND:  # points stored without their blocks (an older server, another tool)
        catch_up(database, filters.job_id, ROLL_UP_BEHIND)
    elif answers is not None:
        kept = answers.get(answer_key(filters, max_points, cursor, mark))
        if kept is not None:
            return kept
    return _read(database, filters, max_points, None, answers)


def _read(database: Database, filters: Filters, max_points: int, cursor: int | None,
          answers: AnswerCache | None) -> dict[str, Any]:
    """The answer up to `cursor`; None: up to the newest point, using the blocks (one snapshot of both)."""
    series: dict[str, list[list[Any]]] = {}
    counts: dict[str, int] = {}
    bucket_steps: dict[str, int] = {}
    key: AnswerKey | None = None
    with database.snapshot() as session:
        use_blocks, mark = False, 0
        if cursor is None:
            mark = rolled_up(session, filters.job_id)
            newest = int(session.scalar(cursor_statement(filters.job_id)) or 0)
            key = answer_key(filters, max_points, newest, mark)
            cursor = max(mark, newest)
        filters = filters.resolved(session)  # every series with points up to the cursor (same snapshot)
        if filters.after is not None:
            cursor = min(cursor, filters.after + POLL_WINDOW)
            # A poll: the new rows are few and found by the (series_id, id) index; one pass sizes every series.
            plan = {name: (count, first, last) for name, count, first, last
                    in _tail(session, filters, cursor)}
        elif filters.since is not None:
            plan = {name: (count, first, last) for name, count, first, last
                    in _tail(session, filters, cursor)}
        elif mark > 0:
            use_blocks = True
            plan = _sizes(session, filters, cursor, mark)
        else:
            wanted = filters.names or list(session.scalars(names_statement(filters.job_id)))
            plan = {}
            for name in wanted:
                span = _step_range(session, filters, cursor, name)
                if span is not None:
                    count = int(session.scalar(count_statement(filters, cursor, name, max_points + 1)))
                    plan[name] = (count, *span)
        wide: dict[int, list[str]] = {}  # series answered from the blocks, by bucket width
        for name in sorted(plan):
            count, first, last = plan[name]
            if use_blocks and count > max_points and (filters.start_step is not None or filters.end_step is not None):
                # The blocks' count includes their points outside the range: count the range's points
                # (at most max_points + 1 of them, through the index) to answer a short range point for point.
                count = int(session.scalar(count_statement(filters, cursor, name, max_points + 1)))
            width = _width(first, last, max_points)
            if count <= max_points:
                rows = _point_rows(session, filters, cursor, name)
                if rows:
                    series[name], counts[name], bucket_steps[name] = rows, len(rows), 1
                continue
            if use_blocks and width >= BLOCK_STEPS:
                wide.setdefault(-(-width // BLOCK_STEPS) * BLOCK_STEPS, []).append(name)
                continue
            rows, total = _bucket_rows(session.execute(bucket_statement(filters, cursor, name, width)).all())
            if rows:
                series[name], counts[name], bucket_steps[name] = rows, total, width
        for width, names in wide.items():
            for name, buckets in _from_blocks(session, filters, mark, cursor, names, width).items():
                rows, total = _bucket_rows(buckets)
                if rows:
                    series[name], counts[name], bucket_steps[name] = rows, total, width
    answer = _answer(series, counts, bucket_steps, cursor)
    if key is not None and answers is not None:
        answers.put(key, answer)
    return answer


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
        ctx: ServerContext = Depends(get_context),
    ) -> None:
        if start_step is not None and end_step is not None and start_step > end_step:
            raise ApiError(422, [{"loc": ["query", "end_step"], "type": "value_error",
                                  "msg": f"end_step {end_step} is before start_step {start_step}"}])
        self.names = [n for item in names or [] for n in item.split(",") if n] or None
        self.since, self.after, self.start_step, self.end_step = since, after, start_step, end_step
        self.max_points = max_points
        self.answers = ctx.metric_answers  # the kept answers of the server serving the request

    def read(self, database: Database, job_id: str) -> dict[str, Any]:
        """The answer for one job."""
        filters = Filters(job_id, names=self.names, since=self.since, after=self.after,
                          start_step=self.start_step, end_step=self.end_step)
        return read(database, filters, self.max_points, self.answers)
