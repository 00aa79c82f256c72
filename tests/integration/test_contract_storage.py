"""Contract tests: the SQLite adapters and the in-memory fakes must behave the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.errors import Conflict
from cv_evaluator.domain.jobs import Job, JobStatus
from cv_evaluator.domain.ports import JobLedger, UnitOfWorkFactory
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.ledger import SqlJobLedger
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.support.backends import BACKENDS, Databases
from tests.support.builders import T0, make_job, make_upload
from tests.support.fakes import InMemoryDatabase, InMemoryJobLedger, InMemoryUnitOfWorkFactory

LEASE = timedelta(seconds=30)
ATTEMPT: dict[str, Any] = {"attempt": 1}


@dataclass
class Store:
    uow: UnitOfWorkFactory
    ledger: JobLedger


@pytest.fixture(params=["memory", *BACKENDS])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, databases: Databases
) -> AsyncIterator[Store]:
    if request.param == "memory":
        db = InMemoryDatabase()
        yield Store(InMemoryUnitOfWorkFactory(db), InMemoryJobLedger(db))
        return
    url = databases.migrated_url(request.param, tmp_path)
    upgrade(url)
    engine = make_async_engine(url)
    try:
        yield Store(SqlUnitOfWorkFactory(engine), SqlJobLedger(engine))
    finally:
        await engine.dispose()


async def _queued_job(store: Store, **kwargs: Any) -> Job:
    cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
    job = make_job(cv, project, **kwargs)
    async with store.uow() as uow:
        await uow.uploads.add(cv)
        await uow.uploads.add(project)
        await uow.jobs.add(job)
        await uow.commit()
    return job


async def _add_job(store: Store, job: Job) -> None:
    async with store.uow() as uow:
        await uow.jobs.add(job)
        await uow.commit()


async def test_unit_of_work_round_trips_uploads_and_jobs(store: Store) -> None:
    job = await _queued_job(store, key="k1")
    async with store.uow() as uow:
        loaded = await uow.jobs.get(job.id)
        by_key = await uow.jobs.get_by_idempotency_key("k1")
        cv = await uow.uploads.get(job.inputs.cv_id)
    assert loaded == job
    assert by_key == job
    assert cv is not None and cv.kind is DocumentKind.CV and cv.text == "Python engineer"


async def test_leaving_without_commit_stores_nothing(store: Store) -> None:
    upload = make_upload()
    async with store.uow() as uow:
        await uow.uploads.add(upload)
    async with store.uow() as uow:
        assert await uow.uploads.get(upload.id) is None


async def test_idempotency_key_is_unique(store: Store) -> None:
    first = await _queued_job(store, key="same")
    second = replace(
        make_job(make_upload(), make_upload(DocumentKind.PROJECT), key="same"), inputs=first.inputs
    )
    with pytest.raises(Conflict):
        await _add_job(store, second)


async def test_job_must_reference_stored_uploads(store: Store) -> None:
    orphan = make_job(make_upload(), make_upload(DocumentKind.PROJECT))
    with pytest.raises(Conflict):
        await _add_job(store, orphan)


async def test_claim_takes_oldest_due_job_once(store: Store) -> None:
    older = await _queued_job(store, at=T0)
    await _queued_job(store, at=T0 + timedelta(seconds=5))
    claimed = await store.ledger.claim_next("w1", T0 + timedelta(seconds=1), T0 + LEASE)
    assert claimed is not None and claimed.id == older.id
    assert claimed.status is JobStatus.PROCESSING
    assert claimed.attempts == 1 and claimed.lease_owner == "w1"
    # The second job is not due yet at this instant.
    assert await store.ledger.claim_next("w2", T0 + timedelta(seconds=1), T0 + LEASE) is None


async def test_concurrent_claims_never_share_a_job(store: Store) -> None:
    jobs = [await _queued_job(store) for _ in range(5)]
    now = T0 + timedelta(seconds=1)
    claims = await asyncio.gather(
        *(store.ledger.claim_next(f"w{i}", now, now + LEASE) for i in range(8))
    )
    claimed_ids = [job.id for job in claims if job is not None]
    assert sorted(claimed_ids) == sorted(job.id for job in jobs)


async def test_expired_lease_is_reclaimed_live_lease_is_not(store: Store) -> None:
    job = await _queued_job(store)
    await store.ledger.claim_next("dead", T0, T0 + LEASE)
    assert (
        await store.ledger.claim_next("w2", T0 + LEASE - timedelta(seconds=1), T0 + 2 * LEASE)
        is None
    )
    reclaimed = await store.ledger.claim_next(
        "w2", T0 + LEASE + timedelta(seconds=1), T0 + 3 * LEASE
    )
    assert reclaimed is not None and reclaimed.id == job.id
    assert reclaimed.attempts == 2 and reclaimed.lease_owner == "w2"
    # The dead worker's late writes are fenced off.
    assert not await store.ledger.complete(
        job.id, "dead", {"cv_match_rate": 0.5, "project_score": 5}, T0, ATTEMPT
    )
    assert not await store.ledger.extend_lease(job.id, "dead", T0 + 9 * LEASE)


async def test_complete_stores_one_result_and_finishes_the_job(store: Store) -> None:
    job = await _queued_job(store)
    await store.ledger.claim(job.id, "w1", T0, T0 + LEASE)
    result = {
        "cv_match_rate": 0.7,
        "project_score": 8.0,
        "receipt": {"evaluator": "x", "evaluator_version": "1"},
    }
    assert await store.ledger.complete(job.id, "w1", result, T0 + LEASE / 2, ATTEMPT)
    assert not await store.ledger.complete(job.id, "w1", result, T0 + LEASE / 2, ATTEMPT)
    async with store.uow() as uow:
        done = await uow.jobs.get(job.id)
        stored = await uow.results.get(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.lease_owner is None and done.finished_at == T0 + LEASE / 2
    assert done.attempt_log == (ATTEMPT,)
    assert stored == result


async def test_fail_records_code_and_message(store: Store) -> None:
    job = await _queued_job(store)
    await store.ledger.claim(job.id, "w1", T0, T0 + LEASE)
    assert not await store.ledger.fail(job.id, "other", "X", "no", T0, ATTEMPT)
    assert await store.ledger.fail(job.id, "w1", "EVALUATION_FAILED", "bad input", T0, ATTEMPT)
    async with store.uow() as uow:
        failed = await uow.jobs.get(job.id)
        assert await uow.results.get(job.id) is None
    assert failed is not None and failed.status is JobStatus.FAILED
    assert (failed.error_code, failed.error_message) == ("EVALUATION_FAILED", "bad input")


async def test_retry_later_requeues_after_the_delay(store: Store) -> None:
    job = await _queued_job(store)
    await store.ledger.claim(job.id, "w1", T0, T0 + LEASE)
    later = T0 + timedelta(seconds=10)
    assert await store.ledger.retry_later(job.id, "w1", later, T0, ATTEMPT)
    assert await store.ledger.claim_next("w2", later - timedelta(seconds=1), later + LEASE) is None
    again = await store.ledger.claim_next("w2", later, later + LEASE)
    assert again is not None and again.attempts == 2 and again.attempt_log == (ATTEMPT,)


async def test_release_gives_the_attempt_back(store: Store) -> None:
    job = await _queued_job(store)
    await store.ledger.claim(job.id, "w1", T0, T0 + LEASE)
    assert await store.ledger.release(job.id, "w1", T0)
    again = await store.ledger.claim(job.id, "w2", T0, T0 + LEASE)
    assert again is not None and again.attempts == 1


async def test_count_by_status(store: Store) -> None:
    first = await _queued_job(store)
    await _queued_job(store)
    await store.ledger.claim(first.id, "w1", T0, T0 + LEASE)
    counts = await store.ledger.count_by_status()
    assert counts == {"queued": 1, "processing": 1, "completed": 0, "failed": 0}
