"""The schema, declared once; Alembic migrations must produce exactly this (a test checks)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    true,
)

from cv_evaluator.storage.types import PortableJSON, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("page_count", Integer, nullable=True),
    Column("text", Text, nullable=False),
    Column("hidden_text", Text, nullable=False, server_default=""),
    Column("warnings", PortableJSON, nullable=False),
    Column("storage_key", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("cv_id", String(40), ForeignKey("uploads.id"), nullable=False),
    Column("project_id", String(40), ForeignKey("uploads.id"), nullable=False),
    Column("job_description", Text, nullable=True),
    Column("study_case_brief", Text, nullable=True),
    Column("scoring_rubric", Text, nullable=True),
    Column("idempotency_key", String(255), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("attempt_log", PortableJSON, nullable=False),
    # When the job's id was last handed to a message broker (the outbox mark); unused by the
    # db queue.
    Column("published_at", UtcDateTime, nullable=True),
    Column("callback_url", Text, nullable=True),
    # Trace-context headers of the request that queued the job (tracing on); see Job.
    Column("trace_context", PortableJSON, nullable=True),
    # The claim query looks for due queued jobs and expired leases: both served by these.
    Index(None, "status", "available_at"),
    Index(None, "status", "lease_expires_at"),
    # Deleting an upload checks that no job references it; without these that check scans jobs.
    Index(None, "cv_id"),
    Index(None, "project_id"),
    # Recent endings (failure ratio, throughput) and expired ones (retention) are read by time.
    Index(None, "finished_at"),
)

# The completion-callback outbox: one row per ended job that asked for a callback, written in the
# transaction that ends the job, so no ending goes unannounced.
callbacks = Table(
    "callbacks",
    metadata,
    Column("job_id", String(40), ForeignKey("jobs.id"), primary_key=True),
    Column("url", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | abandoned
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("attempt_log", PortableJSON, nullable=False),
    Index(None, "status", "next_attempt_at"),
)

results = Table(
    "results",
    metadata,
    # One result per job, enforced by the key itself: a duplicate completion cannot store twice.
    Column("job_id", String(40), ForeignKey("jobs.id"), primary_key=True),
    Column("cv_match_rate", Float, nullable=False),
    Column("project_score", Float, nullable=False),
    Column("evaluator", String(64), nullable=False),
    Column("evaluator_version", String(32), nullable=False),
    Column("document", PortableJSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# The maintenance log: one row per `maint run` (and, later, per maintenance window). The row is
# written when the run starts and updated as each task ends, so a run that dies half-way is still
# on record.
maintenance_runs = Table(
    "maintenance_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),  # run | window | notification | drill
    Column("schedule", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("host", String(255), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # running | ok | warn | critical | failed
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("tasks", PortableJSON, nullable=False),
    Column("checks", PortableJSON, nullable=False),
    Column("issues", PortableJSON, nullable=False),
    Column("before", PortableJSON, nullable=False),
    Column("after", PortableJSON, nullable=False),
    Index(None, "schedule", "started_at"),
)

# Maintenance mode: a single row (id = 1) that every API instance and worker reads.
maintenance_mode = Table(
    "maintenance_mode",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("enabled", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("started_by", String(128), nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("ends_at", UtcDateTime, nullable=True),
    Column("retry_after_seconds", Integer, nullable=False),
    Column("bypass_token_hash", String(64), nullable=True),
    Column("bypass_expires_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("workers_paused", Boolean, nullable=False, server_default=true()),
)

# One row per change of the maintenance mode: who, when, what, why.
maintenance_audit = Table(
    "maintenance_audit",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", PortableJSON, nullable=False),
    Index(None, "at"),
)

# Who holds the maintenance lock (one row per lock name), as a lease the holder renews: a
# process that dies stops renewing, and once `expires_at` has passed another may take over.
maintenance_locks = Table(
    "maintenance_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("heartbeat", UtcDateTime, nullable=False),
)
