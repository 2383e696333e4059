"""Dispatch: the key of the launched run, when its runner claimed it, and when a stop was asked for.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("run_key_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("stop_requested_at", sa.DateTime(), nullable=True))
        batch.create_unique_constraint("uq_jobs_run_key_hash", ["run_key_hash"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("uq_jobs_run_key_hash", type_="unique")
        batch.drop_column("stop_requested_at")
        batch.drop_column("claimed_at")
        batch.drop_column("run_key_hash")
