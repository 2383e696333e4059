"""Bring a database's schema to the newest version with the migrations shipped in this package."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

log = logging.getLogger("brevettiai.server.db")

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> object:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration the database has not had yet."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("Database schema is up to date (%s)", engine.url.render_as_string(hide_password=True))
