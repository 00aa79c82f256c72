"""The maintenance lock: one row per lock name, held as a renewed lease.

Additive only: instances running the previous version ignore the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cv_evaluator.storage.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_locks",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("heartbeat", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_maintenance_locks"),
    )


def downgrade() -> None:
    op.drop_table("maintenance_locks")
