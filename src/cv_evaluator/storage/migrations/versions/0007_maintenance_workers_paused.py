"""Maintenance mode may keep admission closed while workers run again.

A maintenance window verifies the service with a smoke job before reopening it; the workers must
process that job while the public still gets 503. Existing rows keep today's meaning (paused).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("maintenance_mode") as batch:
        batch.add_column(
            sa.Column("workers_paused", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_mode") as batch:
        batch.drop_column("workers_paused")
