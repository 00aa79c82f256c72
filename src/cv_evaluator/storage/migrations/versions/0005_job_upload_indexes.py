"""Index the jobs' references to uploads, and their end time.

Deleting an upload (data retention) makes the database check that no job still references it;
without an index on each reference column, that check reads the whole jobs table per upload.
The end time serves the maintenance checks (failures of the last hour) and retention.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain CREATE INDEX: migrations run in one transaction. It blocks writes to jobs while it
    # builds: 1.6 s for all three on a million jobs (docs/benchmarks.md).
    op.create_index("ix_jobs_cv_id", "jobs", ["cv_id"])
    op.create_index("ix_jobs_project_id", "jobs", ["project_id"])
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
    op.drop_index("ix_jobs_project_id", table_name="jobs")
    op.drop_index("ix_jobs_cv_id", table_name="jobs")
