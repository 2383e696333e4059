"""State the server replicas share through the database: server_state (generated secret, revocation
counter) and once_values (job keys waiting to be shown once).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_state"),
    )
    op.create_table(
        "once_values",
        sa.Column("ref_hash", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref_hash", name="pk_once_values"),
    )
    op.create_index("ix_once_values_expires_at", "once_values", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_once_values_expires_at", table_name="once_values")
    op.drop_table("once_values")
    op.drop_table("server_state")
