"""Bring a database's schema to the newest version with the migrations shipped in this package.

Several servers may start at once on one empty PostgreSQL database: the migration then runs under a
session-level advisory lock, so one server migrates and the others wait and find nothing left to do.
"""

from __future__ import annotations

import logging
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


def upgrade(engine: Engine) -> str | None:
    """Apply every migration the database has not had yet; returns the revision the database is at."""
    from alembic import command

    config = alembic_config()
    with engine.connect() as connection:
        locked = _lock(connection)
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            revision = current_revision(connection)
        finally:
            if locked:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    log.info("Database schema is up to date (%s)", engine.url.render_as_string(hide_password=True))
    return revision


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
