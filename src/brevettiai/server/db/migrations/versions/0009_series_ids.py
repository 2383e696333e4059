"""Metric points refer to their series by an integer id.

Each point row held the job id (36 characters) and the metric's name, and so did both of its index
entries: storing points was mostly SQLite writing those strings. A job's series are now rows of
``metric_series`` (job id, name -> id), and a point row is (id, series_id, step, value, time) with
(series_id, step) and (series_id, id) indexes. Row ids are kept, so cursors handed out before and the
blocks' marks (``metric_rollups.last_id``) stay valid.

SQLite cannot drop a column that a foreign key or an index uses, so there the table is copied into
the new layout; PostgreSQL alters it in place.

Revision ID: 0009_series_ids
Revises: 0008_runs_index
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_series_ids"
down_revision = "0008_runs_index"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create_series() -> None:
    op.create_table(
        "metric_series",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_metric_series_job_id_jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_metric_series"),
        sa.UniqueConstraint("job_id", "name", name="uq_metric_series_job_id"),
    )
    op.execute("INSERT INTO metric_series (job_id, name) "
               "SELECT DISTINCT job_id, name FROM metric_points ORDER BY job_id, name")


def _point_columns() -> list[sa.Column[Any]]:
    return [sa.Column("id", BigId, autoincrement=True, nullable=False),
            sa.Column("series_id", sa.BigInteger(), nullable=False),
            sa.Column("step", sa.BigInteger(), nullable=False),
            sa.Column("value", sa.Double(), nullable=True),
            sa.Column("time", sa.Double(), nullable=False)]


def upgrade() -> None:
    _create_series()
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("metric_points", sa.Column("series_id", sa.BigInteger(), nullable=True))
        op.execute("UPDATE metric_points p SET series_id = s.id FROM metric_series s "
                   "WHERE s.job_id = p.job_id AND s.name = p.name")
        op.alter_column("metric_points", "series_id", nullable=False)
        op.drop_index("ix_metric_points_job_name_step", table_name="metric_points")
        op.drop_index("ix_metric_points_job_id_id", table_name="metric_points")
        op.drop_constraint("fk_metric_points_job_id_jobs", "metric_points", type_="foreignkey")
        op.drop_column("metric_points", "job_id")
        op.drop_column("metric_points", "name")
        op.create_foreign_key("fk_metric_points_series_id_metric_series", "metric_points", "metric_series",
                              ["series_id"], ["id"], ondelete="CASCADE")
    else:
        op.create_table(
            "metric_points_new", *_point_columns(),
            sa.ForeignKeyConstraint(["series_id"], ["metric_series.id"],
                                    name="fk_metric_points_series_id_metric_series", ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="pk_metric_points"),
        )
        op.execute("INSERT INTO metric_points_new (id, series_id, step, value, time) "
                   "SELECT p.id, s.id, p.step, p.value, p.time FROM metric_points p "
                   "JOIN metric_series s ON s.job_id = p.job_id AND s.name = p.name ORDER BY p.id")
        op.drop_table("metric_points")
        op.rename_table("metric_points_new", "metric_points")
    op.create_index("ix_metric_points_series_step", "metric_points", ["series_id", "step"])
    op.create_index("ix_metric_points_series_id", "metric_points", ["series_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_metric_points_series_step", table_name="metric_points")
    op.drop_index("ix_metric_points_series_id", table_name="metric_points")
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("metric_points", sa.Column("job_id", sa.String(36), nullable=True))
        op.add_column("metric_points", sa.Column("name", sa.String(255), nullable=True))
        op.execute("UPDATE metric_points p SET job_id = s.job_id, name = s.name FROM metric_series s "
                   "WHERE s.id = p.series_id")
        op.alter_column("metric_points", "job_id", nullable=False)
        op.alter_column("metric_points", "name", nullable=False)
        op.drop_constraint("fk_metric_points_series_id_metric_series", "metric_points", type_="foreignkey")
        op.drop_column("metric_points", "series_id")
        op.create_foreign_key("fk_metric_points_job_id_jobs", "metric_points", "jobs", ["job_id"], ["id"],
                              ondelete="CASCADE")
    else:
        op.create_table(
            "metric_points_old",
            sa.Column("id", BigId, autoincrement=True, nullable=False),
            sa.Column("job_id", sa.String(36), nullable=False),
            sa.Column("step", sa.BigInteger(), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("value", sa.Double(), nullable=True),
            sa.Column("time", sa.Double(), nullable=False),
            sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_metric_points_job_id_jobs", ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name="pk_metric_points"),
        )
        op.execute("INSERT INTO metric_points_old (id, job_id, step, name, value, time) "
                   "SELECT p.id, s.job_id, p.step, s.name, p.value, p.time FROM metric_points p "
                   "JOIN metric_series s ON s.id = p.series_id ORDER BY p.id")
        op.drop_table("metric_points")
        op.rename_table("metric_points_old", "metric_points")
    op.create_index("ix_metric_points_job_name_step", "metric_points", ["job_id", "name", "step"])
    op.create_index("ix_metric_points_job_id_id", "metric_points", ["job_id", "id"])
    op.drop_table("metric_series")
