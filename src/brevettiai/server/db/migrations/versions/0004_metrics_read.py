"""Metric reads that do not grow with the job: an index on (job_id, id), so "the points after this
cursor" reads only new rows, and per-block sums of each series (metric_blocks, filled up to
metric_rollups.last_id), so a long series is read in blocks instead of points.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_metric_points_job_id_id", "metric_points", ["job_id", "id"])
    op.create_table(
        "metric_blocks",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("block", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("min_step", sa.BigInteger(), nullable=False),
        sa.Column("max_step", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Double(), nullable=True),
        sa.Column("max_value", sa.Double(), nullable=True),
        sa.Column("min_time", sa.Double(), nullable=False),
        sa.Column("max_time", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_metric_blocks_job_id_jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "name", "block", name="pk_metric_blocks"),
    )
    op.create_table(
        "metric_rollups",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_xid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_metric_rollups_job_id_jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", name="pk_metric_rollups"),
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
    op.drop_table("metric_blocks")
    op.drop_index("ix_metric_points_job_id_id", table_name="metric_points")
