"""In-memory fakes of the ports. They pass the same contract tests as the real adapters
(tests/integration/test_contract_*.py), so unit tests built on them cannot drift from reality."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from cv_evaluator.domain.documents import Upload
from cv_evaluator.domain.errors import Conflict, TransientEvaluationError
from cv_evaluator.domain.evaluation import (
    EvaluationOutcome,
    EvaluationRequest,
    ParameterScore,
    Receipt,
)
from cv_evaluator.domain.jobs import Job, JobStatus
from cv_evaluator.domain.maintenance import MaintenanceAudit, MaintenanceState


class InMemoryDatabase:
    """The shared state behind the fake unit of work and the fake ledger."""

    def __init__(self) -> None:
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.published: dict[str, datetime] = {}
        self.lock = asyncio.Lock()


class _Uploads:
    def __init__(self, staged: dict[str, Upload], db: InMemoryDatabase) -> None:
        self._staged = staged
        self._db = db

    async def add(self, upload: Upload) -> None:
        if upload.id in self._db.uploads or upload.id in self._staged:
            raise Conflict("duplicate upload id")
        self._staged[upload.id] = upload

    async def get(self, upload_id: str) -> Upload | None:
        return self._staged.get(upload_id) or self._db.uploads.get(upload_id)


class _Jobs:
    def __init__(self, staged: dict[str, Job], db: InMemoryDatabase) -> None:
        self._staged = staged
        self._db = db

    async def add(self, job: Job) -> None:
        if job.id in self._db.jobs or job.id in self._staged:
            raise Conflict("duplicate job id")
        self._staged[job.id] = job

    async def get(self, job_id: str) -> Job | None:
        return self._staged.get(job_id) or self._db.jobs.get(job_id)

    async def get_by_idempotency_key(self, key: str) -> Job | None:
        for job in (*self._staged.values(), *self._db.jobs.values()):
            if job.idempotency_key == key:
                return job
        return None


class _Results:
    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db

    async def get(self, job_id: str) -> Mapping[str, Any] | None:
        stored = self._db.results.get(job_id)
        return copy.deepcopy(stored) if stored is not None else None


class InMemoryUnitOfWork:
    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db
        self._staged_uploads: dict[str, Upload] = {}
        self._staged_jobs: dict[str, Job] = {}
        self.uploads = _Uploads(self._staged_uploads, db)
        self.jobs = _Jobs(self._staged_jobs, db)
        self.results = _Results(db)
        self.committed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._staged_uploads.clear()
        self._staged_jobs.clear()

    async def commit(self) -> None:
        async with self._db.lock:
            keys = {job.idempotency_key for job in self._db.jobs.values() if job.idempotency_key}
            for job in self._staged_jobs.values():
                # Mirrors the unique index on jobs.idempotency_key.
                if job.idempotency_key is not None and job.idempotency_key in keys:
                    raise Conflict("the write conflicts with existing data")
            for job in self._staged_jobs.values():
                for upload_id in (job.inputs.cv_id, job.inputs.project_id):
                    # Mirrors the foreign keys.
                    if upload_id not in self._db.uploads and upload_id not in self._staged_uploads:
                        raise Conflict("the write conflicts with existing data")
            self._db.uploads.update(self._staged_uploads)
            self._db.jobs.update(self._staged_jobs)
        self._staged_uploads.clear()
        self._staged_jobs.clear()
        self.committed = True


class InMemoryUnitOfWorkFactory:
    def __init__(self, db: InMemoryDatabase | None = None) -> None:
        self.db = db or InMemoryDatabase()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)


def _available(job: Job, now: datetime) -> bool:
    if job.status is JobStatus.QUEUED:
        return job.available_at <= now
    return (
        job.status is JobStatus.PROCESSING
        and job.lease_expires_at is not None
        and job.lease_expires_at < now
    )


class InMemoryJobLedger:
    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db

    def _held(self, job_id: str, worker_id: str) -> Job | None:
        job = self._db.jobs.get(job_id)
        if job is None or job.status is not JobStatus.PROCESSING or job.lease_owner != worker_id:
            return None
        return job

    async def claim_next(self, worker_id: str, now: datetime, lease_until: datetime) -> Job | None:
        ordered = sorted(self._db.jobs.values(), key=lambda j: (j.available_at, j.id))
        for job in ordered:
            if _available(job, now):
                return await self.claim(job.id, worker_id, now, lease_until)
        return None

    async def claim(
        self, job_id: str, worker_id: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        async with self._db.lock:
            job = self._db.jobs.get(job_id)
            if job is None or not _available(job, now):
                return None
            claimed = replace(
                job,
                status=JobStatus.PROCESSING,
                lease_owner=worker_id,
                lease_expires_at=lease_until,
                attempts=job.attempts + 1,
                started_at=job.started_at or now,
                updated_at=now,
            )
            self._db.jobs[job_id] = claimed
            return claimed

    async def extend_lease(self, job_id: str, worker_id: str, lease_until: datetime) -> bool:
        job = self._held(job_id, worker_id)
        if job is None:
            return False
        self._db.jobs[job_id] = replace(job, lease_expires_at=lease_until)
        return True

    def _finish(self, job: Job, attempt: Mapping[str, Any], **changes: Any) -> Job:
        return replace(
            job,
            lease_owner=None,
            lease_expires_at=None,
            attempt_log=(*job.attempt_log, dict(attempt)),
            **changes,
        )

    async def complete(
        self,
        job_id: str,
        worker_id: str,
        result: Mapping[str, Any],
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        async with self._db.lock:
            job = self._held(job_id, worker_id)
            if job is None:
                return False
            if job_id in self._db.results:
                raise Conflict("the write conflicts with existing data")
            self._db.results[job_id] = copy.deepcopy(dict(result))
            self._db.jobs[job_id] = self._finish(
                job,
                attempt,
                status=JobStatus.COMPLETED,
                finished_at=now,
                updated_at=now,
                error_code=None,
                error_message=None,
            )
            return True

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        code: str,
        message: str,
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        job = self._held(job_id, worker_id)
        if job is None:
            return False
        self._db.jobs[job_id] = self._finish(
            job,
            attempt,
            status=JobStatus.FAILED,
            finished_at=now,
            updated_at=now,
            error_code=code,
            error_message=message,
        )
        return True

    async def retry_later(
        self,
        job_id: str,
        worker_id: str,
        available_at: datetime,
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        job = self._held(job_id, worker_id)
        if job is None:
            return False
        self._db.jobs[job_id] = self._finish(
            job, attempt, status=JobStatus.QUEUED, available_at=available_at, updated_at=now
        )
        return True

    async def release(self, job_id: str, worker_id: str, now: datetime) -> bool:
        job = self._held(job_id, worker_id)
        if job is None:
            return False
        self._db.jobs[job_id] = replace(
            job,
            status=JobStatus.QUEUED,
            lease_owner=None,
            lease_expires_at=None,
            attempts=job.attempts - 1,
            available_at=now,
            updated_at=now,
        )
        return True

    async def count_by_status(self) -> dict[str, int]:
        counts = {status.value: 0 for status in JobStatus}
        for job in self._db.jobs.values():
            counts[job.status.value] += 1
        return counts

    async def mark_published(self, job_id: str, at: datetime) -> None:
        if job_id in self._db.jobs:
            self._db.published[job_id] = at

    async def due_for_publish(self, now: datetime, stale_before: datetime, limit: int) -> list[str]:
        due = []
        for job in sorted(self._db.jobs.values(), key=lambda j: (j.available_at, j.id)):
            published = self._db.published.get(job.id)
            if job.status is JobStatus.QUEUED and job.available_at <= now:
                if published is None or published < job.available_at or published < stale_before:
                    due.append(job.id)
            elif (
                job.status is JobStatus.PROCESSING
                and job.lease_expires_at is not None
                and job.lease_expires_at < now
                and (published is None or published < job.lease_expires_at)
            ):
                due.append(job.id)
        return due[:limit]

    async def requeue_failed(self, job_id: str, now: datetime) -> bool:
        job = self._db.jobs.get(job_id)
        if job is None or job.status is not JobStatus.FAILED:
            return False
        self._db.jobs[job_id] = replace(
            job,
            status=JobStatus.QUEUED,
            attempts=0,
            available_at=now,
            updated_at=now,
            finished_at=None,
            error_code=None,
            error_message=None,
        )
        return True


class InMemoryBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.fail_on_put: int | None = None  # fail the N-th put (1-based), to test clean-up

    async def put(self, key: str, data: bytes) -> str:
        if self.fail_on_put is not None:
            self.fail_on_put -= 1
            if self.fail_on_put == 0:
                raise OSError("disk full")
        self.blobs[key] = data
        return key

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    async def exists(self, key: str) -> bool:
        return key in self.blobs


class ScriptedEvaluator:
    """An Evaluator whose behaviour per call is scripted: raise an error, or score.

    Scores are derived from the request (length of documents), never constant, so tests can tell
    two evaluations apart.
    """

    name = "scripted"
    version = "1"

    def __init__(
        self, script: list[BaseException | None] | None = None, delay: float = 0.0
    ) -> None:
        self.script = list(script or [])
        self.delay = delay
        self.calls = 0

    async def evaluate(self, request: EvaluationRequest) -> EvaluationOutcome:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            step = self.script.pop(0)
            if step is not None:
                raise step
        rubric = request.rubric
        scores = {
            param.key: 1 + (len(request.cv.text) + index) % 5
            for index, param in enumerate(rubric.parameters)
        }
        breakdown = tuple(
            ParameterScore(
                key=param.key,
                label=param.label,
                group=param.group,
                score=scores[param.key],
                weight=param.weight,
                rationale="scripted",
            )
            for param in rubric.parameters
        )
        return EvaluationOutcome(
            cv_match_rate=rubric.cv_match_rate(scores),
            cv_feedback="cv feedback",
            project_score=rubric.project_score(scores),
            project_feedback="project feedback",
            overall_summary="summary",
            breakdown=breakdown,
            flags=(),
            receipt=Receipt(
                evaluator=self.name,
                evaluator_version=self.version,
                rubric_name=rubric.name,
                rubric_version=rubric.version,
                rubric_hash=rubric.content_hash,
                reference_hashes={},
                raw_scores=scores,
            ),
        )


def transient(message: str = "provider overloaded") -> TransientEvaluationError:
    return TransientEvaluationError(message)


class InMemoryMaintenanceStore:
    """The maintenance-mode row and audit trail, in memory."""

    def __init__(self) -> None:
        self.state = MaintenanceState()
        self.entries: list[MaintenanceAudit] = []
        self.reads = 0

    async def get(self) -> MaintenanceState:
        self.reads += 1
        return self.state

    async def put(self, state: MaintenanceState, audit: MaintenanceAudit) -> None:
        self.state = state
        self.entries.append(audit)

    async def audit(self, limit: int = 20) -> list[MaintenanceAudit]:
        return list(reversed(self.entries))[:limit]
