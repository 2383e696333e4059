"""Metric polls by row id: an index on (job_id, id), so "the points after this cursor" reads only new rows.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_metric_points_job_id_id", "metric_points", ["job_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_metric_points_job_id_id", table_name="metric_points")
