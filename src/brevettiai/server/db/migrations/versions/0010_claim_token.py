"""The claim of a run remembers the token of the task attempt that made it.

A Dask task whose claim committed but whose answer was lost sends the claim again; with the same token
it is answered as the first was, instead of 409 "claimed already" (which made the task report the run
lost without running it). A task run again after its worker died chooses a new token: still a 409.

Revision ID: 0010_claim_token
Revises: 0009_series_ids
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_claim_token"
down_revision = "0009_series_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("claim_token", sa.String(64), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+ has DROP COLUMN), not a batch copy: that drops the old jobs table, and with
    # foreign keys on, SQLite then deletes every row referring to a job (its metrics, files, ...).
    op.drop_column("jobs", "claim_token")
