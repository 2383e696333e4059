"""Per-block sums of each metric series, so reading a long series reads blocks, not points.

A block is `BLOCK_STEPS` consecutive steps of one series of one job: its point count, step range,
lowest and highest finite value and time range (`db.MetricBlock`). The points stored up to a job's
`db.MetricRollup.last_id` are summed up in its blocks; later points are read as points.

The metrics writer sums up each batch in Python from the rows in hand (`Summaries`) and adds the
sums to the blocks in the transaction that stores the points (`add_points`), moving the job's mark
to its newest point: blocks and points are always of the same moment. The job's mark row is locked
first, so two transactions adding points to one job (replicas on PostgreSQL) take turns, and the
second one's row ids are all higher. Points stored some other way (an older server, another tool)
are summed up from the database by the next `add_points` or read (`roll_up`, one ``INSERT ...
SELECT ... GROUP BY ... ON CONFLICT DO UPDATE``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from itertools import islice
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, case, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from brevettiai.server.db import models as db
from brevettiai.server.db.prepared import Executor, Prepared, connection_of
from brevettiai.server.db.session import Database
from brevettiai.server.metric_series import newest_statement
from brevettiai.server.metric_series import series_table as _series

log = logging.getLogger("brevettiai.server.metric_blocks")

BLOCK_STEPS = 64
CHUNK_IDS = 200_000  # row ids summed up per transaction, so one never holds the write lock long

_points = cast(Table, db.MetricPoint.__table__)
_blocks = cast(Table, db.MetricBlock.__table__)
_rollups = cast(Table, db.MetricRollup.__table__)
LARGEST = 1.7976931348623157e308  # a value between ±this is finite: NaN and ±Infinity are not


def inline(value: int) -> ColumnElement[Any]:
    """An integer written into the statement: PostgreSQL accepts a GROUP BY expression only when it is
    the same text as the selected one, and two placeholders are never the same text."""
    return literal_column(str(int(value)))


def floor_div(number: ColumnElement[Any], divisor: int) -> ColumnElement[Any]:
    """``floor(number / divisor)`` in integers on both databases (their ``/`` truncates toward zero)."""
    d = inline(divisor)
    return case((number >= 0, number.op("/")(d)), else_=(number - d + inline(1)).self_group().op("/")(d))


def finite(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The value where it is finite, else null."""
    return case((value.between(literal_column(repr(-LARGEST)), literal_column(repr(LARGEST))), value))


def rolled_up(session: Session, job_id: str) -> int:
    """The id up to which the job's points are in its blocks (0: none)."""
    return int(session.scalar(select(_rollups.c.last_id).where(_rollups.c.job_id == job_id)) or 0)


def fold_statement(job_id: str, after: int, upto: int) -> Any:
    """The job's point rows ``after < id <= upto`` summed up per series and block (through the
    (series_id, id) index)."""
    block = floor_div(_points.c.step, BLOCK_STEPS)
    value = finite(_points.c.value)
    return (select(_series.c.job_id, _series.c.name, block, func.count(), func.min(_points.c.step),
                   func.max(_points.c.step), func.min(value), func.max(value), func.min(_points.c.time),
                   func.max(_points.c.time))
            .select_from(_series.join(_points, _points.c.series_id == _series.c.id))
            .where(_series.c.job_id == job_id, _points.c.id > after, _points.c.id <= upto)
            .group_by(_series.c.job_id, _series.c.name, block))


def _fold(session: Executor, job_id: str, after: int, upto: int) -> None:
    """Add the job's point rows ``after < id <= upto`` to its blocks."""
    rows = fold_statement(job_id, after, upto)
    least: Any
    greatest: Any
    insert: Any
    if connection_of(session).dialect.name == "postgresql":
        insert, least, greatest = postgresql.insert, func.least, func.greatest
    else:
        insert, least, greatest = sqlite.insert, func.min, func.max  # SQLite's two-argument min/max are scalar
    stmt = insert(_blocks).from_select(["job_id", "name", "block", "count", "min_step", "max_step", "min_value",
                                        "max_value", "min_time", "max_time"], rows)
    new = stmt.excluded

    def either(pick: Any, old: Any, add: Any) -> Any:  # null (no finite value) on one side: the other
        return pick(func.coalesce(old, add), func.coalesce(add, old))

    session.execute(stmt.on_conflict_do_update(
        index_elements=["job_id", "name", "block"],
        set_={"count": _blocks.c.count + new.count,
              "min_step": least(_blocks.c.min_step, new.min_step), "max_step": greatest(_blocks.c.max_step, new.max_step),
              "min_value": either(least, _blocks.c.min_value, new.min_value),
              "max_value": either(greatest, _blocks.c.max_value, new.max_value),
              "min_time": least(_blocks.c.min_time, new.min_time), "max_time": greatest(_blocks.c.max_time, new.max_time)}))


def _lock_mark_statement(dialect: str) -> Any:
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    zero: Any = literal_column("0")
    return (insert(_rollups).values(job_id=bindparam("job_id"), last_id=zero, seen_id=zero, seen_xid=zero)
            .on_conflict_do_update(index_elements=["job_id"], set_={"last_id": _rollups.c.last_id})
            .returning(_rollups.c.last_id))


_LOCK_MARK = Prepared(_lock_mark_statement)
_NEWEST = Prepared(lambda _: newest_statement(bindparam("job_id")))
_MARK_NEWEST = Prepared(lambda _: _rollups.update().where(_rollups.c.job_id == bindparam("job_id"))
                        .values(last_id=newest_statement(bindparam("job_id")).scalar_subquery()))


def lock_mark(session: Executor, job_id: str) -> int:
    """The job's mark, its row created if missing and locked until the transaction ends (PostgreSQL)."""
    return int(_LOCK_MARK.execute(session, {"job_id": job_id}).scalar_one())


def newest_id(session: Executor, job_id: str) -> int:
    """The job's highest point row id (0: none), one probe of the (series_id, id) index per series."""
    return int(_NEWEST.execute(session, {"job_id": job_id}).scalar() or 0)


def _set_mark(session: Executor, job_id: str, mark: int | None = None) -> None:
    """Move the job's mark to `mark` (None: its newest point)."""
    if mark is None:
        _MARK_NEWEST.execute(session, {"job_id": job_id})
    else:
        session.execute(_rollups.update().where(_rollups.c.job_id == job_id).values(last_id=mark))


# count, min step, max step, min value, max value (finite; None: none), min time, max time, last value
# (the one at the highest step, the later row of equal steps)
Summary = list[Any]


class Summaries:
    """The block sums of point rows in hand, by (job id, name, block)."""

    def __init__(self) -> None:
        self.blocks: dict[tuple[str, str, int], Summary] = {}

    def add_rows(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Add ``(job_id, step, name, value, time)`` rows; values are finite or None."""
        blocks = self.blocks
        for job_id, step, name, value, stamp in rows:
            key = (job_id, name, step // BLOCK_STEPS)
            entry = blocks.get(key)
            if entry is None:
                blocks[key] = [1, step, step, value, value, stamp, stamp, value]
                continue
            entry[0] += 1
            if step < entry[1]:
                entry[1] = step
            if step >= entry[2]:
                entry[2], entry[7] = step, value
            if value is not None:
                if entry[3] is None or value < entry[3]:
                    entry[3] = value
                if entry[4] is None or value > entry[4]:
                    entry[4] = value
            if stamp < entry[5]:
                entry[5] = stamp
            if stamp > entry[6]:
                entry[6] = stamp

    def add_series(self, job_id: str, name: str, steps: list[int], values: list[float],
                   times: list[float] | None, now: float) -> bool:
        """Add one series of finite values at consecutive increasing steps by slices, at C speed; False
        (nothing added) when the steps are not consecutive."""
        count = len(steps)
        if not count or steps[-1] - steps[0] != count - 1 or not all(map(int.__lt__, steps, islice(steps, 1, None))):
            return False
        first, blocks = steps[0], self.blocks
        for block in range(first // BLOCK_STEPS, steps[-1] // BLOCK_STEPS + 1):
            start = max(0, block * BLOCK_STEPS - first)
            end = min(count, (block + 1) * BLOCK_STEPS - first)
            part = values[start:end]
            if times is None:
                early = late = now
            else:
                stamps = times[start:end]
                early, late = min(stamps), max(stamps)
            summary = [end - start, steps[start], steps[end - 1], min(part), max(part), early, late, part[-1]]
            entry = blocks.get((job_id, name, block))
            if entry is None:
                blocks[(job_id, name, block)] = summary
            else:  # the block's other steps came in an earlier batch of the same group
                _merge(entry, summary)
        return True

    def series(self) -> list[tuple[str, str, int, Any, Any, Any, int]]:
        """Per (job, name), sorted: count, finite min and max, last value and its step."""
        found: dict[tuple[str, str], list[Any]] = {}
        for (job_id, name, _), (count, _low_step, high_step, low, high, _, _, last) in self.blocks.items():
            entry = found.get((job_id, name))
            if entry is None:
                found[(job_id, name)] = [count, low, high, last, high_step]
                continue
            entry[0] += count
            if low is not None and (entry[1] is None or low < entry[1]):
                entry[1] = low
            if high is not None and (entry[2] is None or high > entry[2]):
                entry[2] = high
            if high_step >= entry[4]:
                entry[3], entry[4] = last, high_step
        return [(job_id, name, *values) for (job_id, name), values in sorted(found.items())]


def _merge(entry: Summary, later: Summary) -> None:
    """Fold the summary of later rows into `entry` (the later one's last value wins a tie of steps)."""
    entry[0] += later[0]
    entry[1] = min(entry[1], later[1])
    if later[2] >= entry[2]:
        entry[2], entry[7] = later[2], later[7]
    if later[3] is not None and (entry[3] is None or later[3] < entry[3]):
        entry[3] = later[3]
    if later[4] is not None and (entry[4] is None or later[4] > entry[4]):
        entry[4] = later[4]
    entry[5], entry[6] = min(entry[5], later[5]), max(entry[6], later[6])


_BLOCK_COLUMNS = ("job_id", "name", "block", "count", "min_step", "max_step", "min_value", "max_value", "min_time",
                  "max_time")
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _upsert_sql(dialect: str, placeholder: str) -> str:
    least, greatest = ("least", "greatest") if dialect == "postgresql" else ("min", "max")
    old = _blocks.name

    def either(pick: str, column: str) -> str:  # null (no finite value) on one side: the other
        if dialect == "postgresql":  # least/greatest skip nulls
            return f"{pick}({old}.{column}, excluded.{column})"
        return f"{pick}(coalesce({old}.{column}, excluded.{column}), coalesce(excluded.{column}, {old}.{column}))"

    return (f"INSERT INTO {old} ({', '.join(_BLOCK_COLUMNS)}) VALUES ({', '.join([placeholder] * len(_BLOCK_COLUMNS))}) "
            f"ON CONFLICT (job_id, name, block) DO UPDATE SET count = {old}.count + excluded.count, "
            f"min_step = {least}({old}.min_step, excluded.min_step), "
            f"max_step = {greatest}({old}.max_step, excluded.max_step), "
            f"min_value = {either(least, 'min_value')}, max_value = {either(greatest, 'max_value')}, "
            f"min_time = {least}({old}.min_time, excluded.min_time), "
            f"max_time = {greatest}({old}.max_time, excluded.max_time)")


def prepare(session: Executor, job_ids: Iterable[str]) -> None:
    """Before adding points: lock the jobs' marks (in one order) and sum up points left behind."""
    for job_id in sorted(set(job_ids)):
        last = lock_mark(session, job_id)
        newest = newest_id(session, job_id)
        if newest > last:
            log.info("Summing up %d metric rows of job %s stored without their blocks", newest - last, job_id)
            _fold(session, job_id, last, newest)


def add_points(session: Executor, summaries: Summaries) -> None:
    """After the points of `summaries` are inserted (after `prepare`): add them to the blocks, move the marks."""
    if not summaries.blocks:
        return
    connection = connection_of(session)
    dialect = connection.dialect
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle, "?")
    rows = [(job_id, name, block, *entry[:7]) for (job_id, name, block), entry in sorted(summaries.blocks.items())]
    connection.exec_driver_sql(_upsert_sql(dialect.name, placeholder), rows)
    for job_id in sorted({key[0] for key in summaries.blocks}):
        _set_mark(session, job_id)


def roll_up(database: Database, job_id: str) -> tuple[int, int]:
    """Sum up (at most `CHUNK_IDS` more of) the job's points that are not in its blocks yet.

    Only points stored by something else than `add_points` (older servers, other tools) are left
    behind. Returns the id summed up to and the job's newest point id; equal when it is done.
    """
    def work(session: Session) -> tuple[int, int]:
        last = lock_mark(session, job_id)
        newest = newest_id(session, job_id)
        target = min(newest, last + CHUNK_IDS)
        if target > last:
            _fold(session, job_id, last, target)
            _set_mark(session, job_id, target)
        return max(last, target), newest

    return database.write_upsert(work)


def catch_up(database: Database, job_id: str, behind: int, budget: float = 30.0) -> int:
    """Sum up the job's points until fewer than `behind` ids are left (or `budget` seconds passed); the mark."""
    deadline, before = time.monotonic() + budget, -1
    while True:
        try:
            mark, newest = roll_up(database, job_id)
        except IntegrityError:  # the job was deleted meanwhile
            return 0
        if newest - mark < behind or time.monotonic() > deadline:
            return mark
        if mark == before:
            return mark
        before = mark
