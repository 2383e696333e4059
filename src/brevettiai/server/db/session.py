"""The database connection: an engine tuned per backend, and read and write sessions.

SQLite allows one writer at a time and makes a waiting writer sleep in steps of milliseconds, so
write sessions take a process-wide lock there: writers queue on the lock instead of on SQLite's busy
handler, and a read-then-write transaction can never fail with "database is locked". Each write
transaction also starts with ``BEGIN IMMEDIATE``, so processes sharing the file (``--workers``) wait
for each other's whole transaction (up to the 30 s busy timeout).
PostgreSQL needs no lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("brevettiai.server.db")

T = TypeVar("T")
SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its cursor's row count)."""
    return cast("CursorResult[Any]", result).rowcount or 0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Reads through a memory map of the file: pages come from the OS cache, shared by every pooled
    # connection, instead of each connection's 2 MB page cache (smaller than the indexes one runs-table
    # listing of 10,000 runs walks: ~25 % of its SQL time). Only address space is reserved.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute("PRAGMA temp_store=MEMORY")  # a listing's sort b-tree never touches a temp file
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; SQLite in WAL mode, the folder of a SQLite file created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=10, max_overflow=30)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        _require_driver(parsed.get_driver_name())
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _require_driver(driver: str) -> None:
    """Fail with an install hint when the PostgreSQL driver is missing."""
    module = {"psycopg": "psycopg", "psycopg2": "psycopg2", "asyncpg": "asyncpg", "pg8000": "pg8000"}.get(driver)
    if module is None:
        return
    try:
        __import__(module)
    except ImportError:
        raise RuntimeError(f"the database URL needs the {module} driver: pip install 'brevettiai[postgres]' "
                           f"(use postgresql+psycopg://...)") from None


class Database:
    """The engine and the sessions every part of the server uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; nothing it does is committed."""
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session for queries that all see the database of one moment (a read that adds up parts)."""
        with self._sessions() as session:
            if self.is_sqlite:
                session.connection().exec_driver_sql("BEGIN")  # WAL: the snapshot is taken at the first read
            else:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends, or rolled back on an exception."""
        lock = self._write_lock or contextlib.nullcontext()
        with lock, self._sessions() as session, session.begin():
            if self.is_sqlite:
                # Take SQLite's write lock at the start: other processes on the same file (--workers)
                # then wait for this transaction instead of interleaving with its read-then-write.
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    @contextlib.contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """`write` without the ORM: a Core connection whose work is committed when the block ends
        (for the one-statement writes of hot paths, where a session costs more than the statement)."""
        lock = self._write_lock or contextlib.nullcontext()
        with lock, self.engine.begin() as connection:
            if self.is_sqlite:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    def write_upsert(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write session; once more if a concurrent writer inserted the same key first.

        For insert-or-update work: the second run finds the row and updates it. Only PostgreSQL can
        have the conflict; SQLite writers are serialized.
        """
        try:
            with self.write() as session:
                return work(session)
        except IntegrityError:
            with self.write() as session:
                return work(session)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
