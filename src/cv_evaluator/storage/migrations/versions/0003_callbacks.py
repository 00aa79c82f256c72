"""Completion callbacks: the URL on the job and the delivery outbox.

Additive only: instances running the previous version ignore both.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cv_evaluator.storage.types import PortableJSON, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("callback_url", sa.Text(), nullable=True))
    op.create_table(
        "callbacks",
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempt_log", PortableJSON, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_callbacks_job_id_jobs"),
        sa.PrimaryKeyConstraint("job_id", name="pk_callbacks"),
    )
    op.create_index(
        "ix_callbacks_status_next_attempt_at", "callbacks", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_callbacks_status_next_attempt_at", table_name="callbacks")
    op.drop_table("callbacks")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("callback_url")
