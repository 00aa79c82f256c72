"""The maintenance log.

Additive only: instances running the previous version ignore the new table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cv_evaluator.storage.types import PortableJSON, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_runs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("schedule", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("tasks", PortableJSON, nullable=False),
        sa.Column("checks", PortableJSON, nullable=False),
        sa.Column("issues", PortableJSON, nullable=False),
        sa.Column("before", PortableJSON, nullable=False),
        sa.Column("after", PortableJSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_runs"),
    )
    op.create_index(
        "ix_maintenance_runs_schedule_started_at", "maintenance_runs", ["schedule", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_maintenance_runs_schedule_started_at", table_name="maintenance_runs")
    op.drop_table("maintenance_runs")
