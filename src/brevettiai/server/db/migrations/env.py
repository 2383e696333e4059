"""Alembic environment: runs on the connection `brevettiai.server.db.migrate.upgrade` passes in.

To write a new migration after changing `models.py`, against a scratch database:
``alembic -x url=sqlite:///scratch.db -c /dev/null revision --autogenerate -m "what changed"`` with
``script_location`` pointing here, or use `brevettiai.server.db.migrate.alembic_config()` from Python.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from brevettiai.server.db.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url") or context.get_x_argument(as_dictionary=True)["url"],
                      target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).begin() as conn:
        _run(conn)
