"""Ports: the interfaces the use cases need from the outside world.

Every port has a real adapter and an in-memory fake; both pass the same contract tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from cv_evaluator.domain.documents import ExtractedDocument, Upload
from cv_evaluator.domain.evaluation import EvaluationOutcome, EvaluationRequest
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.maintenance import MaintenanceAudit, MaintenanceState


class DocumentReader(Protocol):
    """Sniffs the real type of a file and extracts its text, or raises a domain error."""

    def read(self, data: bytes, filename: str) -> ExtractedDocument: ...


class Evaluator(Protocol):
    """Scores one CV and project report against the reference documents and rubric."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    async def evaluate(self, request: EvaluationRequest) -> EvaluationOutcome: ...


class BlobStore(Protocol):
    """Keeps the original bytes of uploads."""

    async def put(self, key: str, data: bytes) -> str: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...


class UploadRepository(Protocol):
    async def add(self, upload: Upload) -> None: ...

    async def get(self, upload_id: str) -> Upload | None: ...


class JobRepository(Protocol):
    async def add(self, job: Job) -> None: ...

    async def get(self, job_id: str) -> Job | None: ...

    async def get_by_idempotency_key(self, key: str) -> Job | None: ...


class ResultRepository(Protocol):
    async def get(self, job_id: str) -> Mapping[str, Any] | None: ...


class UnitOfWork(Protocol):
    """One transaction over the repositories; leaving the block without commit rolls back."""

    @property
    def uploads(self) -> UploadRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def results(self) -> ResultRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class JobLedger(Protocol):
    """Lease-based ownership of jobs; every write after the claim is fenced by the lease owner.

    A write by a worker that no longer holds the lease returns False and changes nothing, which is
    what makes redelivery and reclaiming safe.
    """

    async def claim_next(self, worker_id: str, now: datetime, lease_until: datetime) -> Job | None:
        """Take the oldest available job: queued and due, or processing with an expired lease."""
        ...

    async def claim(
        self, job_id: str, worker_id: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        """Take one named job if it is available (used by brokers that deliver ids)."""
        ...

    async def extend_lease(self, job_id: str, worker_id: str, lease_until: datetime) -> bool: ...

    async def complete(
        self,
        job_id: str,
        worker_id: str,
        result: Mapping[str, Any],
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        """Store the result and mark the job completed, in one transaction."""
        ...

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        code: str,
        message: str,
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool: ...

    async def retry_later(
        self,
        job_id: str,
        worker_id: str,
        available_at: datetime,
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool: ...

    async def release(self, job_id: str, worker_id: str, now: datetime) -> bool:
        """Give a claimed job back (graceful shutdown); it does not count as an attempt."""
        ...

    async def count_by_status(self) -> dict[str, int]: ...

    async def mark_published(self, job_id: str, at: datetime) -> None:
        """Record that the job's id was handed to a message broker (the outbox mark)."""
        ...

    async def due_for_publish(self, now: datetime, stale_before: datetime, limit: int) -> list[str]:
        """Jobs a broker has no live message for: queued and due but never published, or last
        published before they became due (a retry), or published before ``stale_before`` and
        still waiting; and processing jobs whose lease ran out since they were published."""
        ...

    async def requeue_failed(self, job_id: str, now: datetime) -> bool:
        """Put a failed job back in the queue with fresh attempts (dead-letter replay)."""
        ...


class JobPublisher(Protocol):
    """Announces a committed job to the workers (db backend: a wake-up; brokers: a message)."""

    async def publish(self, job_id: str) -> None: ...


class JobSource(Protocol):
    """Hands a worker its next claimed job, waiting up to ``timeout`` seconds for one."""

    async def next_job(self, worker_id: str, timeout: float) -> Job | None: ...

    async def done(self, job: Job) -> None:
        """The worker has recorded the job's outcome (or handed it back): acknowledge delivery."""
        ...

    def close(self) -> None:
        """Stop handing out jobs: waiting and later calls return None at once."""
        ...


class MaintenanceStore(Protocol):
    """The one maintenance-mode state every instance shares, and its audit trail."""

    async def get(self) -> MaintenanceState: ...

    async def put(self, state: MaintenanceState, audit: MaintenanceAudit) -> None:
        """Replace the state and record why, in one transaction."""
        ...

    async def audit(self, limit: int = 20) -> list[MaintenanceAudit]:
        """The latest changes, newest first."""
        ...
