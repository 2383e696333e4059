"""A job's metric series by integer id (`db.MetricSeries`): point rows name their series by it.

Statements here find a job's series through the ``(job_id, name)`` unique index and its points
through the ``(series_id, ...)`` indexes of the point table, one probe per series.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Select, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from brevettiai.server.db import models as db
from brevettiai.server.db.prepared import Executor, Prepared, connection_of

series_table = cast(Table, db.MetricSeries.__table__)
_points = cast(Table, db.MetricPoint.__table__)


def ids(session: Executor, job_id: str, names: Iterable[str]) -> dict[str, int]:
    """The ids of the job's series of these names, creating the missing ones (in the caller's transaction).

    Callers adding points hold the job's block mark (`metric_blocks.prepare`), so two writers never
    create one job's series at once; ON CONFLICT keeps it safe for any other caller.
    """
    wanted = set(names)
    rows: Any = _OF_JOB.execute(session, {"job_id": job_id})
    found = {name: id_ for name, id_ in rows if name in wanted}
    missing = sorted(wanted - found.keys())
    if missing:
        insert: Any = postgresql.insert if connection_of(session).dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(series_table).on_conflict_do_nothing(index_elements=["job_id", "name"]),
                        [{"job_id": job_id, "name": name} for name in missing])
        found.update((name, id_) for name, id_ in session.execute(select(series_table.c.name, series_table.c.id)
                     .where(series_table.c.job_id == job_id, series_table.c.name.in_(missing))))
    return found


_OF_JOB = Prepared(lambda _: select(series_table.c.name, series_table.c.id)
                   .where(series_table.c.job_id == bindparam("job_id")))


def one(job_id: str, name: str) -> Any:
    """The id of one series of the job, as a scalar subquery (null: the job has no such series)."""
    return (select(series_table.c.id).where(series_table.c.job_id == job_id, series_table.c.name == name)
            .scalar_subquery())


def of_job(job_id: str, names: Iterable[str] | None = None) -> Select[Any]:
    """The ids of the job's series (of these names only, if given)."""
    statement = select(series_table.c.id).where(series_table.c.job_id == job_id)
    if names is not None:
        statement = statement.where(series_table.c.name.in_(list(names)))
    return statement


def in_job(job_id: str, names: Iterable[str] | None = None) -> ColumnElement[bool]:
    """Point rows of the job's series (of these names only, if given)."""
    return _points.c.series_id.in_(of_job(job_id, names))


def newest_statement(job_id: str | BindParameter[Any]) -> Select[Any]:
    """The job's highest point row id (null: none): the newest row of each series, one probe each of the
    (series_id, id) index."""
    newest = (select(_points.c.id).where(_points.c.series_id == series_table.c.id)
              .order_by(_points.c.id.desc()).limit(1).correlate(series_table).scalar_subquery())
    return select(func.max(newest)).where(series_table.c.job_id == job_id)


def names_statement(job_id: str) -> Select[Any]:
    """The names of the job's series that have points, in order."""
    has_points = select(_points.c.id).where(_points.c.series_id == series_table.c.id).exists()
    return (select(series_table.c.name).where(series_table.c.job_id == job_id, has_points)
            .order_by(series_table.c.name))
