"""Listing jobs for the pages and the API (the runs table): one query, filtered, sorted and paged in the
database, with the chosen settings and metrics as columns.

The filter language is `brevettiai.server.run_filter`; its SQL is `brevettiai.server.run_query`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from brevettiai.contract.forms import MISSING, lookup
from brevettiai.server import run_filter, run_query
from brevettiai.server.context import ServerContext
from brevettiai.server.db import models as db
from brevettiai.server.run_filter import Field, FilterError

PAGE_SIZE = 50

__all__ = ["PAGE_SIZE", "FilterError", "RunPage", "RunRow", "known_fields", "list_jobs", "list_runs", "unknown_columns"]


@dataclass
class RunRow:
    """One job of a listing, its model type's name, and the values of the chosen columns by label.

    `job` has the columns of `db.Job` as attributes: a plain row, not an ORM object (50 ORM objects and
    their session bookkeeping cost more than the page's SQL).
    """

    job: Any
    type_name: str | None
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:  # the templates read row.id, row.name, row.status...
        return getattr(self.job, name)

    @property
    def type_id(self) -> str | None:
        return self.job.model_type_id


@dataclass
class RunPage:
    """One page of a listing and how many jobs match in all."""

    rows: list[RunRow]
    total: int
    columns: list[Field]


def _column_value(row: RunRow, item: Field, metric: Any) -> Any:
    if item.source == "settings":
        value = lookup(row.job.settings or {}, item.key)
        return None if value is MISSING else value
    if item.source == "metrics":
        if metric is None:
            return None
        if item.part != "value":
            return getattr(metric, item.part)
        return metric.value if metric.value is not None else metric.text
    if item.key == "type":
        return row.type_name
    if item.key == "tag":
        return list(row.job.tag_ids or [])
    return getattr(row.job, item.key)


_METRIC_COLUMNS = tuple(db.RunMetric.__table__.c)
_JOB_COLUMNS = (*db.Job.__table__.c, db.ModelType.name.label("type_name"))


def _metric_rows(session: Any, job_ids: list[str], names: list[str]) -> dict[tuple[str, str], Any]:
    """The metric summaries (rows with `db.RunMetric`'s columns) of the page's jobs for the metric
    columns, by (job id, name)."""
    if not job_ids or not names:
        return {}
    found = session.connection().execute(select(*_METRIC_COLUMNS).where(
        db.RunMetric.job_id.in_(job_ids), db.RunMetric.name.in_(sorted(set(names)))))
    return {(metric.job_id, metric.name): metric for metric in found}


def list_runs(ctx: ServerContext, kind: str, *, filter: str = "", sort: str = "",
              columns: str | Iterable[str] = (), offset: int = 0, limit: int = PAGE_SIZE,
              parent_id: str | None = None, name: str | None = None, statuses: Sequence[str] = (),
              q: str = "") -> RunPage:
    """A page of jobs of a kind matching `filter` (the run filter language), sorted by `sort` (newest
    first by default), with `columns` (field names) read for each; FilterError when one is not valid."""
    try:
        tree = run_filter.parse(filter)
        order = run_filter.parse_sort(sort)
        chosen = run_filter.parse_columns(columns)
    except FilterError as exc:
        if exc.unknown is None:
            raise
        with ctx.db.read() as session:
            raise run_query.with_field_hint(session, kind, exc) from None
    with ctx.db.read() as session:
        scope = run_query.Scope(session, kind)
        conditions: list[Any] = [db.Job.kind == kind]
        if parent_id:
            conditions.append(db.Job.parent_id == parent_id)
        if name is not None:
            conditions.append(db.Job.name == name)
        if statuses:
            conditions.append(db.Job.status.in_(list(statuses)))
        if q:
            conditions.append(run_query.condition(scope, run_filter.TextSearch(q)))
        checked: list[tuple[Field, int | None]] = [(c.field, c.position) for c in run_filter.fields_in(tree)]
        checked += [(order.field, None)] if order else []
        run_query.check_known(scope, checked)
        if tree is not None:
            conditions.append(run_query.condition(scope, tree))
        ordering = run_query.sort_keys(scope, order.field, order.descending) if order else []
        # One pass gives the page's ids and (as a window) how many match; the sort moves narrow rows,
        # not whole jobs with their settings.
        windowed = tree is not None or order is not None
        counted = [func.count().over()] if windowed else []
        # Core, not ORM, execution: these select columns, and the ORM's result wrapping costs more than the rows.
        connection = session.connection()
        page = connection.execute(scope.joined(select(db.Job.id, *counted)).where(*conditions)
                               .order_by(*ordering, db.Job.created.desc(), db.Job.id.desc())
                               .offset(offset).limit(limit)).all()
        ids = [row[0] for row in page]
        if page and windowed:
            total = page[0][1]
        else:  # unfiltered, the count reads only the (kind, id) index; or a page past the end
            total = session.scalar(select(func.count()).select_from(db.Job).where(*conditions)) or 0
        found = {job.id: job for job in connection.execute(
            select(*_JOB_COLUMNS).outerjoin(db.ModelType, db.ModelType.id == db.Job.model_type_id)
            .where(db.Job.id.in_(ids)))} if ids else {}
        rows = [RunRow(found[job_id], found[job_id].type_name) for job_id in ids if job_id in found]
        metrics = _metric_rows(session, [row.job.id for row in rows], [c.key for c in chosen if c.source == "metrics"])
        for row in rows:
            for item in chosen:
                row.values[item.label] = _column_value(row, item, metrics.get((row.job.id, item.key)))
    return RunPage(rows, total, chosen)


def known_fields(ctx: ServerContext, kind: str) -> tuple[list[str], list[str]]:
    """The settings keys and metric names the runs of a kind have (for a column picker)."""
    with ctx.db.read() as session:
        return run_query.known_settings(session, kind), run_query.known_metrics(session, kind)


def unknown_columns(ctx: ServerContext, kind: str, columns: Iterable[Field]) -> list[str]:
    """Why each settings or metric column no run of the kind has stays empty, with close names (a column may
    be chosen before runs report it, so this informs rather than refuses)."""
    problems = []
    with ctx.db.read() as session:
        scope = run_query.Scope(session, kind)
        for item in columns:
            if item.source == "job":
                continue
            try:
                run_query.check_known(scope, [(item, None)])
            except FilterError as exc:
                problems.append(str(exc))
    return problems


def list_jobs(ctx: ServerContext, kind: str, q: str, status: str, page: int, size: int = PAGE_SIZE,
              parent_id: str | None = None) -> tuple[list[RunRow], int]:
    """One page (1-based) of jobs, newest first, by text and status: what the pages without a filter show."""
    result = list_runs(ctx, kind, offset=(page - 1) * size, limit=size, parent_id=parent_id, q=q,
                       statuses=[status] if status else [])
    return result.rows, result.total
