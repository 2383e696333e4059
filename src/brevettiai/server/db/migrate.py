"""Bring a database's schema to the newest version with the migrations shipped in this package.

Several servers may start at once on one empty PostgreSQL database: the migration then runs under a
session-level advisory lock, so one server migrates and the others wait and find nothing left to do.

On SQLite, foreign keys are off while migrations run: Alembic's batch mode alters a table by copying it
and dropping the old one, and with foreign keys on, dropping ``jobs`` deletes every row that refers to a
job (its metric points, batches, charts). The keys are checked before the migration commits instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("brevettiai.server.db")

MIGRATIONS = Path(__file__).with_name("migrations")

# Any fixed 64-bit number; the same in every replica ("brevetti" in ASCII).
MIGRATION_LOCK = 0x6272657665747469


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Apply every migration the database has not had yet (up to `revision`); returns the revision the
    database is at."""
    reached = _migrate(engine, revision, down=False)
    log.info("Database schema is up to date (%s)", engine.url.render_as_string(hide_password=True))
    return reached


def downgrade(engine: Engine, revision: str) -> str | None:
    """Take the database back to `revision` (for tests and operators going back a release)."""
    return _migrate(engine, revision, down=True)


def _migrate(engine: Engine, revision: str, *, down: bool) -> str | None:
    from alembic import command

    config = alembic_config()
    with engine.connect() as connection:
        locked = _lock(connection)
        try:
            current = current_revision(connection)
            connection.rollback()  # end the read's transaction: the migration begins its own
            if not down and current == _target(config, revision):
                return current  # up to date: no transaction, lock or foreign-key scan at every start
            with _sqlite_foreign_keys_off(connection), connection.begin():
                if connection.dialect.name == "sqlite":  # pysqlite leaves DDL outside its transactions
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                broken_before = _broken_references(connection)
                config.attributes["connection"] = connection
                (command.downgrade if down else command.upgrade)(config, revision)
                _refuse_new_broken_references(connection, broken_before)
            return current_revision(connection)
        finally:
            if locked:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()


def _target(config: Config, revision: str) -> str | None:
    """The revision id `revision` names ("head": the newest shipped migration)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config).get_current_head() if revision == "head" else revision


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys off on this SQLite connection meanwhile (a no-op inside a transaction: set before)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _broken_references(connection: Connection) -> set[tuple[object, ...]]:
    """SQLite's rows that refer to a row that is not there: (table, rowid, referred table, key index)."""
    if connection.dialect.name != "sqlite":
        return set()
    return {tuple(row) for row in connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()}


def _refuse_new_broken_references(connection: Connection, before: set[tuple[object, ...]]) -> None:
    """Roll a SQLite migration back when it left rows referring to missing rows that were not so before
    (rows broken by hand earlier, with the sqlite3 shell say, are left as they are)."""
    new = _broken_references(connection) - before
    if new:
        table, rowid, referred, _ = sorted(new, key=str)[0]
        raise RuntimeError(f"a schema migration would leave {len(new)} rows referring to missing rows (e.g. row "
                           f"{rowid} of {table} to {referred}); it was rolled back and the database is as it was")


def _lock(connection: Connection) -> bool:
    """On PostgreSQL, wait for the migration lock (held by this connection's session until unlocked)."""
    if connection.dialect.name != "postgresql":
        return False
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()
    return True


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
