"""Statements compiled once per database dialect and run through the driver with plain parameters.

For the few statements the metrics writer runs in every transaction: building a SQLAlchemy
statement, its cache key and its parameter processing cost more than SQLite's own work for a
1-point batch. Only for parameters the driver takes as they are (numbers, strings, None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.orm import Session

# What the writer's statements run on: an ORM session, or a Core connection (cheaper for the hot path).
Executor = Session | Connection


def connection_of(executor: Executor) -> Connection:
    """The Core connection a statement runs on: the connection itself, or the session's (in its transaction)."""
    return executor if isinstance(executor, Connection) else executor.connection()


class Prepared:
    """A statement built by ``build(dialect_name)`` on first use, then run as compiled text."""

    def __init__(self, build: Callable[[str], Any]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def execute(self, executor: Executor,
                params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> CursorResult[Any]:
        """Run it in the session's (or connection's) transaction with named parameters (a list of them:
        executemany)."""
        connection = connection_of(executor)
        dialect = connection.dialect
        entry = self._compiled.get(dialect.name)
        if entry is None:
            compiled = self._build(dialect.name).compile(dialect=dialect)
            positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
            entry = self._compiled[dialect.name] = (compiled.string, positions, dict(compiled.params))
        sql, positions, defaults = entry

        def bind(values: Mapping[str, Any]) -> Any:
            merged = {**defaults, **values} if defaults else values
            return merged if positions is None else tuple(merged[name] for name in positions)

        if isinstance(params, Mapping):
            return connection.exec_driver_sql(sql, bind(params))
        return connection.exec_driver_sql(sql, [bind(values) for values in params])
