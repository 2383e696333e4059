"""The runs table's filter, sort and columns as SQL, run in the database (SQLite or PostgreSQL).

Settings come from `db.RunSetting` and metrics from `db.RunMetric` (one row per job and key, indexed
by key and value): a comparison is ``jobs.id IN (SELECT job_id ... WHERE key = ? AND value > ?)``, an
index range. Reading the settings out of every job's JSON instead (``json_extract``) costs a parse per
job, 25-30 ms for 10,000 jobs on SQLite, more than the whole budget of a listing. A comparison with a
number only looks at values that are numbers, one with a text only at texts, so ``settings.x > 10``
never compares the text "abc". A comparison matches the runs that have the field with a value that
satisfies it; ``not`` matches every other run, also those without the field. Sorting joins the
sort key's row (missing values last).
"""

from __future__ import annotations

import datetime
import difflib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from brevettiai.contract.status import JOB_STATUSES
from brevettiai.server.db import models as db
from brevettiai.server.run_filter import (
    SERIES_PARTS,
    BoolOp,
    Compare,
    Field,
    FilterError,
    Node,
    Not,
    TextSearch,
    Value,
    close_names,
    suggest,
)

_COLUMNS = {"name": db.Job.name, "id": db.Job.id, "status": db.Job.status, "created": db.Job.created,
            "started": db.Job.started, "completed": db.Job.completed}


@functools.cache
def _alias(source: str, number: int) -> Any:
    """The n-th joined table of a listing (m0, s1, ...): made once per process, as building an alias costs
    more than compiling the cached statement that uses it."""
    model = db.RunMetric if source == "metrics" else db.RunSetting
    return aliased(model, name=f"{source[0]}{number}")


@dataclass
class Scope:
    """What compiling one listing needs: the session, the kind, and the joins made so far."""

    session: Any
    kind: str
    joins: dict[tuple[str, str], Any] = field(default_factory=dict)
    counts: tuple[int, int] | None = None  # jobs of the kind and in all, once asked for

    @property
    def postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _join(self, source: str, key: str) -> Any:
        if (source, key) not in self.joins:
            self.joins[(source, key)] = _alias(source, len(self.joins))
        return self.joins[(source, key)]

    def metric(self, name: str) -> Any:
        """The outer-joined `RunMetric` row of this metric (one join per name)."""
        return self._join("metrics", name)

    def setting(self, key: str) -> Any:
        """The outer-joined `RunSetting` row of this setting (one join per key)."""
        return self._join("settings", key)

    def joined(self, statement: Any) -> Any:
        """The statement with the outer joins the sort made."""
        for (source, key), table in self.joins.items():
            match = table.name == key if source == "metrics" else table.key == key
            statement = statement.outerjoin(table, and_(table.job_id == db.Job.id, match))
        return statement


# -- known names: the column chooser, and errors that suggest -------------------------------------------

def _kind_counts(session: Any, kind: str) -> tuple[int, int]:
    """How many jobs there are of `kind`, and in all (read from the (kind, id) index)."""
    row = session.connection().execute(_KIND_COUNTS, {"kind": kind}).one()
    return int(row[0] or 0), int(row[1] or 0)


_KIND_COUNTS = select(func.count().filter(db.Job.kind == bindparam("kind")), func.count()).select_from(db.Job)


@functools.cache
def _names_statement(table: type[db.RunSetting] | type[db.RunMetric], minority: bool, limit: int | None) -> Any:
    """The statement of `_distinct_names` (bound parameter ``kind``): built once per process, as building its
    aliases costs more than running it."""
    column = table.key if table is db.RunSetting else table.name  # type: ignore[union-attr]
    kind: Any = bindparam("kind")
    if minority:
        statement = (select(column).distinct().join(db.Job, db.Job.id == table.job_id)
                     .where(db.Job.kind == kind).order_by(column))
    else:
        step, probe = aliased(table), aliased(table)
        names = select(func.min(column).label("name")).cte("names", recursive=True)
        following = select(func.min(getattr(step, column.key))).where(getattr(step, column.key) > names.c.name)
        names = names.union_all(select(following.scalar_subquery()).where(names.c.name.is_not(None)))
        # The job's kind as a scalar per row: the probe reads the name's rows first and stops at one of this
        # kind (a join let SQLite walk all the kind's jobs instead, 40 ms for a name only test reports have).
        kind_of_job = select(db.Job.kind).where(db.Job.id == probe.job_id).scalar_subquery()
        has_kind = exists(select(literal(1)).select_from(probe)
                          .where(getattr(probe, column.key) == names.c.name, kind_of_job == kind))
        statement = select(names.c.name).where(names.c.name.is_not(None), has_kind).order_by(names.c.name)
    return statement.limit(limit) if limit else statement


def _distinct_names(session: Any, table: type[db.RunSetting] | type[db.RunMetric], kind: str,
                    limit: int | None = None) -> list[str]:
    """The distinct settings keys (`RunSetting`) or metric names (`RunMetric`) of the runs of a kind, sorted.

    When most jobs are of this kind, a skip scan walks the (key, ...) index from one name to the next (one
    seek per name, not one row per job and name: 10,000 runs with 5 settings are 50,000 rows but 5 names)
    and keeps the names one of the kind's jobs has (the first row looked at usually is one; a name only
    other kinds have costs its rows, fewer than half the jobs). When the kind is a minority (test reports
    beside many models), its own jobs' rows are read instead, which are few.
    """
    mine, total = _kind_counts(session, kind)
    if not mine:
        return []
    # PostgreSQL prices the probe as if it read every row of each name (it stops at the first), which passes
    # jit_above_cost: compiling the plan took 30-60 ms of a query that runs in 1 ms.
    found = _without_jit(session.connection(), _names_statement(table, mine * 2 <= total, limit), {"kind": kind})
    return list(found.scalars())


def _without_jit(connection: Any, statement: Any, values: dict[str, Any]) -> Any:
    """The statement's result, on PostgreSQL with JIT compilation off for it alone (buffered)."""
    if connection.dialect.name != "postgresql":
        return connection.execute(statement, values)
    before = connection.execute(_JIT_OFF).scalar_one()
    try:
        return connection.execute(statement, values).freeze()()
    finally:
        connection.execute(_JIT_BACK, {"value": before})


_JIT_OFF = select(func.current_setting("jit"), func.set_config("jit", "off", True))
_JIT_BACK = select(func.set_config("jit", bindparam("value"), True))


def _leaves(keys: set[str]) -> list[str]:
    """The keys that are not a group of others (``a`` when ``a.b`` is there too), sorted."""
    groups = {key[:index] for key in keys for index, char in enumerate(key) if char == "."}
    return sorted(keys - groups)


def _flat_keys(settings: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(settings, dict):
        for name, value in settings.items():
            path = f"{prefix}{name}"
            keys.add(path)
            keys |= _flat_keys(value, path + ".")
    return keys


def known_settings(session: Any, kind: str) -> list[str]:
    """Settings keys of the kind's model types (forms and defaults) and of every job of the kind, leaves only."""
    keys: set[str] = set()
    for schema, defaults in session.execute(select(db.ModelType.settings_schema, db.ModelType.defaults)
                                            .where(db.ModelType.kind == kind)):
        keys |= {f["model"] for f in (schema or {}).get("fields") or []
                 if isinstance(f, dict) and isinstance(f.get("model"), str) and f.get("type") != "label"}
        keys |= _flat_keys(defaults or {})
    keys |= set(_distinct_names(session, db.RunSetting, kind))
    return _leaves(keys)


def known_metrics(session: Any, kind: str, limit: int = 500) -> list[str]:
    """Names of the metrics the runs of a kind have, sorted (the first `limit`)."""
    return _distinct_names(session, db.RunMetric, kind, limit)


def _did_you_mean(labels: Sequence[str]) -> str:
    return f"; did you mean {' or '.join(labels)}?" if labels else ""


def _metric_hint(name: str, part: str, known: Sequence[str]) -> str:
    """Close metric names, keeping the series part asked for; ``loss.minn`` -> ``metrics.loss.min``."""
    suffix = f".{part}" if part != "value" else ""
    head, _, tail = name.rpartition(".")
    if part == "value" and head in known:
        parts = difflib.get_close_matches(tail.lower(), SERIES_PARTS, 1, 0.5)
        if parts:
            return _did_you_mean([f"metrics.{head}.{parts[0]}"])
        return (f"; '{tail}' is not a part of the series '{head}' "
                f"({', '.join(f'metrics.{head}.{p}' for p in SERIES_PARTS)})")
    return _did_you_mean([f"metrics.{k}{suffix}" for k in close_names(name, known)])


FIRST_ROWS = 64  # rows of a name looked at before asking how the kinds are split


@functools.cache
def _has_name_statement(table: type[db.RunSetting] | type[db.RunMetric], how: str) -> Any:
    """Whether a run of the kind has a settings key or metric name (bound parameters ``name`` and ``kind``).

    ``first``: among the name's first rows (one usually answers); ``rows``: among all its rows, when most
    jobs are of the kind; ``jobs``: from the kind's jobs, when they are few (from the name's rows, a name
    10,000 models have took 20 ms to refuse for test reports).
    """
    column = table.key if table is db.RunSetting else table.name  # type: ignore[union-attr]
    name: Any = bindparam("name")
    kind: Any = bindparam("kind")
    if how == "jobs":
        return (select(literal(1)).select_from(db.Job).join(table, and_(table.job_id == db.Job.id, column == name))
                .where(db.Job.kind == kind).limit(1))
    rows = select(table.job_id).where(column == name)
    found = (rows.limit(FIRST_ROWS) if how == "first" else rows).subquery()
    kind_of_job = select(db.Job.kind).where(db.Job.id == found.c.job_id).scalar_subquery()
    return select(literal(1)).select_from(found).where(kind_of_job == kind).limit(1)


def _has_name(scope: Scope, table: type[db.RunSetting] | type[db.RunMetric], name: str) -> bool:
    connection, values = scope.session.connection(), {"name": name, "kind": scope.kind}
    if connection.execute(_has_name_statement(table, "first"), values).first() is not None:
        return True
    if scope.counts is None:
        scope.counts = _kind_counts(scope.session, scope.kind)
    mine, total = scope.counts
    statement = _has_name_statement(table, "jobs" if mine * 2 <= total else "rows")
    return _without_jit(connection, statement, values).first() is not None  # priced as reading all the rows


def check_known(scope: Scope, fields: Sequence[tuple[Field, int | None]]) -> None:
    """Refuse settings keys and metric names no run of the kind has, suggesting close ones (looked up only then)."""
    for item, position in fields:
        if item.source == "settings":
            if _has_name(scope, db.RunSetting, item.key):
                continue
            keys = known_settings(scope.session, scope.kind)
            if any(k.startswith(item.key + ".") for k in keys):
                raise FilterError(f"'settings.{item.key}' is a group of settings; name one of them, e.g. "
                                  f"settings.{next(k for k in keys if k.startswith(item.key + '.'))}", position)
            raise FilterError(f"no {scope.kind} has the setting '{item.key}'"
                              f"{_did_you_mean([f'settings.{k}' for k in close_names(item.key, keys)])}", position)
        if item.source == "metrics":
            if _has_name(scope, db.RunMetric, item.key):
                continue
            hint = _metric_hint(item.key, item.part, known_metrics(scope.session, scope.kind))
            raise FilterError(f"no {scope.kind} has the metric '{item.key}'{hint}", position)


def with_field_hint(session: Any, kind: str, error: FilterError) -> FilterError:
    """An unknown-field error that also names the settings and metrics it may stand for (``epochs`` ->
    ``settings.training.epochs``, ``accuracy`` -> ``metrics.test_accuracy``, ``loss.min`` -> ``metrics.loss.min``)."""
    name = error.unknown or ""
    if not name or "did you mean" in error.message:
        return error
    metrics = known_metrics(session, kind)
    head, _, part = name.rpartition(".")
    if head and part.lower() in SERIES_PARTS:  # loss.min: a series part of a metric
        found = [f"metrics.{k}.{part.lower()}" for k in close_names(head, metrics)]
    else:
        found = close_names(name, [f"settings.{k}" for k in known_settings(session, kind)]
                            + [f"metrics.{k}" for k in metrics])
    if not found:
        return error
    hint = _did_you_mean(found[:3])
    return FilterError(error.message.replace(f"unknown field '{name}'", f"unknown field '{name}'{hint}", 1),
                       error.position)


# -- comparisons --------------------------------------------------------------------------------------

def _compare(expression: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return expression == value
    if op == "!=":
        return expression != value
    if op == "<":
        return expression < value
    if op == "<=":
        return expression <= value
    if op == ">":
        return expression > value
    return expression >= value


def _like(expression: Any, text: str) -> ColumnElement[bool]:
    return func.lower(expression).contains(text.lower(), autoescape=True)


def _texts(values: tuple[Value, ...]) -> list[str]:
    return [v.isoformat() if isinstance(v, datetime.datetime) else str(v).lower() if isinstance(v, bool)
            else f"{v:g}" if isinstance(v, float) else v for v in values]


def _any_of(items: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*items) if items else false()


def _typed(node: Compare, number: Any, text: Any, boolean: Any) -> ColumnElement[bool]:
    """A comparison of a value that may be a number, a text or a boolean (settings, metrics)."""
    if node.op == "contains":
        return _like(text, str(node.values[0]))
    if node.op == "in":
        return _any_of([_typed(Compare(node.field, "=", (v,), node.position), number, text, boolean)
                        for v in node.values])
    value = node.values[0]
    if isinstance(value, bool):
        if boolean is None:
            raise FilterError(f"'{node.field.label}' is not a true/false value", node.position)
        if node.op not in ("=", "!="):
            raise FilterError("true and false can only be compared with = or !=", node.position)
        return _compare(boolean, node.op, value)
    if isinstance(value, float):
        return _compare(number, node.op, value)
    return _compare(text, node.op, _texts((value,))[0])


def _tag_ids(scope: Scope, node: Compare) -> list[str]:
    rows = scope.session.execute(select(db.Tag.id, db.Tag.name)).all()
    ids: list[str] = []
    for value in _texts(node.values):
        if node.op == "contains":
            ids += [tag_id for tag_id, name in rows if value.lower() in name.lower()]
            continue
        found = [tag_id for tag_id, name in rows if name == value or tag_id == value]
        if not found:
            raise FilterError(f"there is no tag '{value}'{suggest(value, [name for _, name in rows], '')}",
                              node.position)
        ids += found
    return ids


def _has_tag(scope: Scope, ids: list[str]) -> ColumnElement[bool]:
    if not ids:
        return false()
    if scope.postgres:
        return cast(db.Job.tag_ids, JSONB).op("?|")(array(ids))
    each = func.json_each(db.Job.tag_ids).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value.in_(ids)))


def _type_ids(scope: Scope, node: Compare) -> list[str]:
    rows = scope.session.execute(select(db.ModelType.id, db.ModelType.name).where(db.ModelType.kind == scope.kind)).all()
    ids: list[str] = []
    for value in _texts(node.values):
        if node.op == "contains":
            ids += [type_id for type_id, name in rows if value.lower() in name.lower()]
            continue
        found = [type_id for type_id, name in rows if name == value or type_id == value]
        if not found:
            raise FilterError(f"there is no {scope.kind} type '{value}'"
                              f"{suggest(value, [name for _, name in rows], '')}", node.position)
        ids += found
    return ids


def _job_field(scope: Scope, node: Compare) -> ColumnElement[bool]:
    key, op = node.field.key, node.op
    if key == "tag":
        matched = _has_tag(scope, _tag_ids(scope, node))
        return not_(matched) if op == "!=" else matched
    if key == "type":
        ids = _type_ids(scope, node)
        matched = db.Job.model_type_id.in_(ids) if ids else false()
        return or_(db.Job.model_type_id.is_(None), not_(matched)) if op == "!=" else matched
    column = _COLUMNS[key]
    if key == "status":
        for value in _texts(node.values):
            if value not in JOB_STATUSES:
                raise FilterError(f"'{value}' is not a status{suggest(value, JOB_STATUSES)} "
                                  f"(statuses: {', '.join(JOB_STATUSES)})", node.position)
    if key in ("created", "started", "completed"):
        values: list[Any] = list(node.values)
    else:
        values = _texts(node.values)
    if op == "contains":
        return _like(column, values[0])
    if op == "in":
        return column.in_(values)
    return _compare(column, op, values[0])


def _metric(node: Compare) -> ColumnElement[bool]:
    table = db.RunMetric
    if node.field.part != "value":
        column = getattr(table, node.field.part)
        if node.op == "in":
            matched = _any_of([column == v for v in node.values if isinstance(v, float)])
        elif not isinstance(node.values[0], float):
            raise FilterError(f"'{node.field.label}' is a number; compare it with a number", node.position)
        else:
            matched = _compare(column, node.op, node.values[0])
    else:
        boolean = case((table.value == 1.0, true()), (table.value == 0.0, false()))
        matched = _typed(node, table.value, table.text, boolean)
    return db.Job.id.in_(select(table.job_id).where(table.name == node.field.key, matched))


def condition(scope: Scope, node: Node) -> ColumnElement[bool]:
    """The SQL condition of a parsed filter."""
    if isinstance(node, BoolOp):
        items = [condition(scope, item) for item in node.items]
        return and_(*items) if node.op == "and" else or_(*items)
    if isinstance(node, Not):
        return not_(condition(scope, node.item))
    if isinstance(node, TextSearch):
        return or_(_like(db.Job.name, node.text), db.Job.id == node.text)
    source = node.field.source
    if source == "job":
        return _job_field(scope, node)
    if source == "settings":
        table = db.RunSetting
        return db.Job.id.in_(select(table.job_id).where(table.key == node.field.key,
                                                        _typed(node, table.number, table.text, table.flag)))
    return _metric(node)


def sort_keys(scope: Scope, item: Field, descending: bool) -> list[Any]:
    """ORDER BY terms for a field: missing values last whichever the direction."""
    if item.source == "job":
        if item.key == "tag":
            raise FilterError("the runs cannot be sorted by tag; sort by name, status, type, a time, "
                              "settings.<path> or metrics.<name>")
        expressions: list[Any] = [db.ModelType.name if item.key == "type" else _COLUMNS[item.key]]
    elif item.source == "settings":
        table = scope.setting(item.key)
        expressions = [table.number, table.text, table.flag]
    else:
        table = scope.metric(item.key)
        expressions = [getattr(table, item.part)] + ([table.text] if item.part == "value" else [])
    return [(e.desc() if descending else e.asc()).nulls_last() for e in expressions]
