"""Evaluation jobs: the job row is the source of truth for status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


@dataclass(frozen=True, slots=True)
class EvaluationInputs:
    """What the caller asked for; None means "use the shipped default"."""

    cv_id: str
    project_id: str
    job_description: str | None = None
    study_case_brief: str | None = None
    scoring_rubric: str | None = None
    # Where to POST the result when the job ends (completion callback); None: nobody is told.
    callback_url: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    status: JobStatus
    inputs: EvaluationInputs
    created_at: datetime
    updated_at: datetime
    available_at: datetime
    attempts: int = 0
    max_attempts: int = 3
    idempotency_key: str | None = None
    request_hash: str | None = None
    request_id: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempt_log: tuple[dict[str, Any], ...] = ()
    # W3C trace-context headers (`traceparent`, `tracestate`) of the span that queued the job, so
    # the worker's spans join the request's trace; None when tracing was off.
    trace_context: dict[str, str] | None = None
