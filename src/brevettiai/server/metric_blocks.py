"""Per-block sums of each metric series, so reading a long series reads blocks, not points.

A block is `BLOCK_STEPS` consecutive steps of one series of one job: its point count, step range,
lowest and highest finite value and time range (`db.MetricBlock`). The points stored up to a job's
`db.MetricRollup.last_id` are summed up in its blocks; later points are read as points (they are
found through the (job_id, id) index). Summing up never touches how points are stored: `roll_up`
folds the rows after `last_id` into the blocks with one ``INSERT ... SELECT ... GROUP BY ... ON
CONFLICT DO UPDATE`` in the database, and the `BlockRoller` thread does so about every half second for the
jobs that got new points (reads do it too when they find many points not yet summed up).

On PostgreSQL, concurrent transactions may commit row ids out of order, so the newest id is noted with
the next transaction id of that moment, and summed up once every older transaction has ended (none
can still commit a lower id; usually by the next pass). SQLite has one writer at a time: every id up
to the newest is committed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, func, literal_column, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from brevettiai.server.db import models as db
from brevettiai.server.db.session import Database

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
    """The job's point rows ``after < id <= upto`` summed up per series and block (through the (job_id, id) index)."""
    block = floor_div(_points.c.step, BLOCK_STEPS)
    value = finite(_points.c.value)
    return (select(_points.c.job_id, _points.c.name, block, func.count(), func.min(_points.c.step),
                   func.max(_points.c.step), func.min(value), func.max(value), func.min(_points.c.time),
                   func.max(_points.c.time))
            .where(_points.c.job_id == job_id, _points.c.id > after, _points.c.id <= upto)
            .group_by(_points.c.job_id, _points.c.name, block))


def _fold(session: Session, job_id: str, after: int, upto: int) -> None:
    """Add the job's point rows ``after < id <= upto`` to its blocks."""
    rows = fold_statement(job_id, after, upto)
    from sqlalchemy.dialects import postgresql, sqlite

    least: Any
    greatest: Any
    insert: Any
    if session.get_bind().dialect.name == "postgresql":
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


def _next_xid(session: Session) -> int:
    return int(session.scalar(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")))


def _oldest_running_xid(session: Session) -> int:
    return int(session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")))


def roll_up(database: Database, job_id: str) -> tuple[int, int]:
    """Sum up (at most `CHUNK_IDS` more of) the job's points into its blocks.

    Returns the id summed up to and the job's newest point id; equal when it is done.
    """
    def work(session: Session) -> tuple[int, int]:
        mark = session.execute(select(_rollups.c.last_id, _rollups.c.seen_id, _rollups.c.seen_xid)
                               .where(_rollups.c.job_id == job_id).with_for_update()).first()
        if mark is None:
            session.execute(_rollups.insert().values(job_id=job_id, last_id=0, seen_id=0, seen_xid=0))
            last, seen, seen_xid = 0, 0, 0
        else:
            last, seen, seen_xid = mark
        newest = int(session.scalar(select(_points.c.id).where(_points.c.job_id == job_id)
                                    .order_by(_points.c.id.desc()).limit(1)) or 0)
        if database.is_sqlite:
            settled = newest  # one writer at a time: every id up to the newest is committed
        else:
            # Every id up to `seen` was taken by a transaction older than `seen_xid`: once none of
            # those is running, they are all committed (or rolled back) and can be summed up.
            settled = seen if seen > last and _oldest_running_xid(session) >= seen_xid else last
        target = min(settled, last + CHUNK_IDS)
        if target > last:
            _fold(session, job_id, last, target)
        if seen <= target and not database.is_sqlite:  # watch the newest id now (after reading it)
            seen, seen_xid = newest, _next_xid(session)
        session.execute(_rollups.update().where(_rollups.c.job_id == job_id)
                        .values(last_id=max(last, target), seen_id=seen, seen_xid=seen_xid))
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
        if mark == before and not database.is_sqlite:
            return mark  # PostgreSQL: the rest waits for transactions still running; it is read as points
        before = mark


class BlockRoller:
    """A thread that sums up the new points of every job that got some, about every `interval` seconds."""

    def __init__(self, database: Database, interval: float = 0.5) -> None:
        self.database, self.interval = database, interval
        self._stop = threading.Event()
        self._dirty: set[str] = set()
        with database.read() as session:
            self._seen = int(session.scalar(select(func.max(_points.c.id))) or 0)
        self._thread = threading.Thread(target=self._run, name="brevettiai-metric-blocks", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._pass()
            except Exception:
                log.exception("Summing up metric points failed; trying again")

    def _pass(self) -> None:
        with self.database.read() as session:
            newest = int(session.scalar(select(func.max(_points.c.id))) or 0)
            if newest > self._seen:
                self._dirty.update(session.scalars(select(_points.c.job_id).distinct()
                                                   .where(_points.c.id > self._seen, _points.c.id <= newest)))
                self._seen = newest
        for job_id in sorted(self._dirty):
            if self._stop.is_set():
                return
            try:
                mark, job_newest = roll_up(self.database, job_id)
            except IntegrityError:  # deleted
                self._dirty.discard(job_id)
                continue
            if mark >= job_newest:
                self._dirty.discard(job_id)
