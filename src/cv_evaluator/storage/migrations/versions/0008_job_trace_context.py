"""Jobs carry the trace context of the request that queued them.

Additive only: instances running the previous version ignore the column, and jobs they queue
simply start a trace of their own in the worker.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cv_evaluator.storage.types import PortableJSON

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("trace_context", PortableJSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("trace_context")
