"""The runs table: a summary per job and metric (output value; last, min, max and count of its progress
series) that filters and sorts read instead of the points, backfilled from the stored points; each
job's settings as typed, indexed rows, backfilled from the jobs; and per-user page settings (the runs
table's columns).

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_kind_id", "jobs", ["kind", "id"])
    op.create_table(
        "run_metrics",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("output", sa.Double(), nullable=True),
        sa.Column("has_output", sa.Boolean(), nullable=False),
        sa.Column("last", sa.Double(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("min", sa.Double(), nullable=True),
        sa.Column("max", sa.Double(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_run_metrics_job_id_jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "name", name="pk_run_metrics"),
    )
    op.create_index("ix_run_metrics_name_value", "run_metrics", ["name", "value"])
    op.create_table(
        "run_settings",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("number", sa.Double(), nullable=True),
        sa.Column("text", sa.String(255), nullable=True),
        sa.Column("flag", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_run_settings_job_id_jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "key", name="pk_run_settings"),
    )
    op.create_index("ix_run_settings_key_number", "run_settings", ["key", "number"])
    op.create_index("ix_run_settings_key_text", "run_settings", ["key", "text"])
    op.create_table(
        "user_prefs",
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username", "name", name="pk_user_prefs"),
    )
    # The summary of every series stored so far; the last value is the one at the highest step
    # (the latest row among equal steps), read through ix_metric_points_job_name_step.
    op.execute(
        "INSERT INTO run_metrics (job_id, name, has_output, last_step, min, max, count) "
        "SELECT job_id, name, false, max(step), min(value), max(value), count(*) FROM metric_points "
        "GROUP BY job_id, name")
    op.execute(
        "UPDATE run_metrics SET last = (SELECT p.value FROM metric_points p WHERE p.job_id = run_metrics.job_id "
        "AND p.name = run_metrics.name AND p.step = run_metrics.last_step ORDER BY p.id DESC LIMIT 1)")
    op.execute("UPDATE run_metrics SET value = last")
    _backfill_settings(op.get_bind())


def _backfill_settings(connection: sa.Connection) -> None:
    """Every job's settings as typed rows (the runs table's settings filters), a thousand jobs at a time."""
    from brevettiai.server.run_summary import setting_rows

    jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("settings", sa.JSON))
    rows = sa.table("run_settings", sa.column("job_id"), sa.column("key"), sa.column("number"), sa.column("text"),
                    sa.column("flag"))
    last = ""
    while True:
        batch = connection.execute(sa.select(jobs.c.id, jobs.c.settings).where(jobs.c.id > last)
                                   .order_by(jobs.c.id).limit(1000)).all()
        if not batch:
            return
        values = [row for job_id, settings in batch for row in setting_rows(job_id, settings)]
        if values:
            connection.execute(sa.insert(rows), values)
        last = batch[-1][0]


def downgrade() -> None:
    op.drop_table("user_prefs")
    op.drop_index("ix_run_settings_key_text", table_name="run_settings")
    op.drop_index("ix_run_settings_key_number", table_name="run_settings")
    op.drop_table("run_settings")
    op.drop_index("ix_run_metrics_name_value", table_name="run_metrics")
    op.drop_table("run_metrics")
    op.drop_index("ix_jobs_kind_id", table_name="jobs")
