from __future__ import annotations

import asyncio

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.jobs import JobStatus
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.queue.db import DbJobQueue
from cv_evaluator.service.requests import JobRequestLoader
from cv_evaluator.worker.pool import WorkerPool
from cv_evaluator.worker.processor import JobProcessor, ProcessorSettings
from tests.support.builders import T0, make_job, make_upload
from tests.support.fakes import InMemoryJobLedger, InMemoryUnitOfWorkFactory, ScriptedEvaluator

SETTINGS = ProcessorSettings(
    lease_seconds=30, timeout_seconds=30, retry_base_seconds=1, retry_max_seconds=5
)


def build(
    delay: float, shutdown_timeout: float, jobs: int
) -> tuple[WorkerPool, InMemoryUnitOfWorkFactory]:
    uow = InMemoryUnitOfWorkFactory()
    ledger = InMemoryJobLedger(uow.db)
    clock = ManualClock(T0)
    cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
    uow.db.uploads.update({cv.id: cv, project.id: project})
    for _ in range(jobs):
        job = make_job(cv, project)
        uow.db.jobs[job.id] = job
    processor = JobProcessor(
        ledger,
        ScriptedEvaluator(delay=delay),
        JobRequestLoader(uow),
        clock,
        SETTINGS,
        ServiceMetrics(),
    )
    pool = WorkerPool(
        DbJobQueue(ledger, clock, lease_seconds=30),
        processor,
        concurrency=2,
        poll_interval=0.05,
        shutdown_timeout=shutdown_timeout,
    )
    return pool, uow


async def wait_busy(pool: WorkerPool, count: int) -> None:
    async with asyncio.timeout(5):
        while pool.in_flight < count:
            await asyncio.sleep(0.005)


async def test_stop_lets_in_flight_jobs_finish_within_the_timeout() -> None:
    pool, uow = build(delay=0.1, shutdown_timeout=5, jobs=2)
    pool.start()
    await wait_busy(pool, 2)
    await pool.stop()
    assert {job.status for job in uow.db.jobs.values()} == {JobStatus.COMPLETED}


async def test_stop_releases_jobs_that_outlive_the_timeout_and_claims_nothing_new() -> None:
    pool, uow = build(delay=5, shutdown_timeout=0.05, jobs=3)
    pool.start()
    await wait_busy(pool, 2)
    await pool.stop()
    jobs = list(uow.db.jobs.values())
    # The two in flight were handed back without counting an attempt; the third was never taken.
    assert [job.status for job in jobs] == [JobStatus.QUEUED] * 3
    assert [job.attempts for job in jobs] == [0, 0, 0]
    assert all(job.lease_owner is None for job in jobs)


async def test_an_idle_pool_stops_at_once() -> None:
    pool, _ = build(delay=0, shutdown_timeout=5, jobs=0)
    pool.start()
    await asyncio.sleep(0.01)
    async with asyncio.timeout(1):
        await pool.stop()
