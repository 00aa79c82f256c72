"""Read the state of a job and its result. Reading never changes a job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cv_evaluator.domain.errors import NotFound
from cv_evaluator.domain.ids import IdKind, kind_of
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class JobView:
    job: Job
    result: Mapping[str, Any] | None


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
