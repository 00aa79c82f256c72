"""Maintenance mode and its audit trail.

Additive only: instances running the previous version ignore both tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cv_evaluator.storage.types import PortableJSON, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_mode",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("ends_at", UtcDateTime(), nullable=True),
        sa.Column("retry_after_seconds", sa.Integer(), nullable=False),
        sa.Column("bypass_token_hash", sa.String(64), nullable=True),
        sa.Column("bypass_expires_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_mode"),
    )
    op.create_table(
        "maintenance_audit",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", PortableJSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_audit"),
    )
    op.create_index("ix_maintenance_audit_at", "maintenance_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_audit_at", table_name="maintenance_audit")
    op.drop_table("maintenance_audit")
    op.drop_table("maintenance_mode")
