from __future__ import annotations

import asyncio

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.queue.db import DbJobQueue
from tests.support.builders import T0, make_job, make_upload
from tests.support.fakes import InMemoryDatabase, InMemoryJobLedger


async def test_an_idle_worker_wakes_as_soon_as_a_job_is_published() -> None:
    db = InMemoryDatabase()
    queue = DbJobQueue(InMemoryJobLedger(db), ManualClock(T0), lease_seconds=30)
    waiting = asyncio.create_task(queue.next_job("w", timeout=10))
    await asyncio.sleep(0.01)
    cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
    job = make_job(cv, project)
    db.jobs[job.id] = job
    await queue.publish(job.id)
    # The poll timeout is 10 s: returning within 1 s proves the wake-up, not the poll, found it.
    claimed = await asyncio.wait_for(waiting, 1)
    assert claimed is not None and claimed.id == job.id


async def test_next_job_gives_up_after_the_timeout() -> None:
    queue = DbJobQueue(InMemoryJobLedger(InMemoryDatabase()), ManualClock(T0), lease_seconds=30)
    assert await queue.next_job("w", timeout=0.02) is None
