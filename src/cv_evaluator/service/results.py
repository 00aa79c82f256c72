"""Read the state of a job and its result. Reading never changes a job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cv_evaluator.domain.errors import NotFound
from cv_evaluator.domain.ids import IdKind, kind_of
from cv_evaluator.domain.jobs import Job, JobStatus
from cv_evaluator.domain.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class JobView:
    job: Job
    result: Mapping[str, Any] | None


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_job(view: JobView) -> dict[str, Any]:
    """The body of ``GET /v1/result/{id}``; completion callbacks send the same document."""
    job = view.job
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status.value,
        "created_at": _utc(job.created_at),
        "updated_at": _utc(job.updated_at),
        "attempts": job.attempts,
    }
    if job.status is JobStatus.COMPLETED and view.result is not None:
        body["result"] = dict(view.result)
    if job.status is JobStatus.FAILED:
        body["error"] = {"code": job.error_code, "message": job.error_message}
    return body


class ResultService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def get(self, job_id: str) -> JobView:
        if kind_of(job_id) is not IdKind.JOB:
            raise NotFound(f"no evaluation job with id {job_id!r}")
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None:
                raise NotFound(f"no evaluation job with id {job_id!r}")
            result = await uow.results.get(job_id) if job.status.terminal else None
        return JobView(job=job, result=result)
