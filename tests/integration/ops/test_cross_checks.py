"""The cross-checks against real databases (both backends), the upload store and the broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from cv_evaluator.domain.documents import DocumentKind, Upload
from cv_evaluator.domain.jobs import Job, JobStatus
from cv_evaluator.ops.checks.cross import FILE_GRACE
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, Status
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_check
from cv_evaluator.storage.rows import job_to_row, upload_to_row
from cv_evaluator.storage.tables import jobs, results, uploads
from tests.integration.ops.conftest import OpsFactory
from tests.integration.ops.test_kafka_checks import (
    commit,
    create_topic,
    group_member,
    kafka_ops,
    produce,
)
from tests.support.builders import make_job, make_upload
from tests.support.kafka_server import KafkaServer


@pytest.fixture
def db(ops: OpsContext) -> OpsContext:
    """The parametrised backend (sqlite and postgresql), schema in place."""
    return ops


async def check(ctx: OpsContext, name: str) -> CheckResult:
    (spec,) = select_checks([name])
    return await run_check(ctx, spec)


def blob_path(ctx: OpsContext, key: str) -> Path:
    return ctx.settings.data_dir / "uploads" / key[-2:] / key


async def add_uploads(ctx: OpsContext, *, with_files: bool = True) -> tuple[Upload, Upload]:
    cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
    async with ctx.engine.begin() as connection:
        await connection.execute(insert(uploads), [upload_to_row(cv), upload_to_row(project)])
    if with_files:
        for upload in (cv, project):
            path = blob_path(ctx, upload.storage_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(upload.text.encode())
    return cv, project


async def add_job(ctx: OpsContext, **changes: Any) -> Job:
    cv, project = await add_uploads(ctx)
    now = ctx.clock.now()
    job = replace(make_job(cv, project, at=now), **changes)
    async with ctx.engine.begin() as connection:
        await connection.execute(insert(jobs), [job_to_row(job)])
    return job


def processing(ctx: OpsContext, *, lease_seconds: float, age: float = 30.0) -> dict[str, Any]:
    """Fields of a job a worker claimed ``age`` seconds ago, lease ending in ``lease_seconds``."""
    now = ctx.clock.now()
    return {
        "status": JobStatus.PROCESSING,
        "created_at": now - timedelta(seconds=age),
        "started_at": now - timedelta(seconds=age),
        "attempts": 1,
        "lease_owner": "host-1:123:worker-0",
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }


async def add_result(ctx: OpsContext, job_id: str) -> None:
    row = {
        "job_id": job_id,
        "cv_match_rate": 0.5,
        "project_score": 5.0,
        "evaluator": "local",
        "evaluator_version": "1",
        "document": {},
        "created_at": ctx.clock.now(),
    }
    async with ctx.engine.begin() as connection:
        await connection.execute(insert(results), [row])


# --- a clean database


async def test_every_cross_check_is_ok_on_a_clean_database(db: OpsContext) -> None:
    for name in ("cross.processing_vs_consumer", "cross.orphans", "cross.unfinished_lag"):
        result = await check(db, name)
        assert result.status is Status.OK, (name, result.summary)


async def test_a_healthy_database_with_work_in_progress_is_ok(db: OpsContext) -> None:
    job = await add_job(db, **processing(db, lease_seconds=60))
    finished = await add_job(db, status=JobStatus.COMPLETED, finished_at=db.clock.now(), attempts=1)
    await add_result(db, finished.id)
    for name in ("cross.processing_vs_consumer", "cross.orphans", "cross.unfinished_lag"):
        result = await check(db, name)
        assert result.status is Status.OK, (name, result.summary)
    live = await check(db, "cross.processing_vs_consumer")
    assert live.details["live_leases"] == 1
    assert live.details["oldest_live"][0]["id"] == job.id


# --- cross.processing_vs_consumer, db queue


async def test_processing_jobs_with_expired_leases_are_warn(db: OpsContext) -> None:
    await add_job(db, **processing(db, lease_seconds=60))
    stale = await add_job(db, **processing(db, lease_seconds=-120, age=400))
    result = await check(db, "cross.processing_vs_consumer")
    assert result.status is Status.WARN, result.summary
    assert f"1 of 2 processing job(s) hold an expired lease (oldest {stale.id}" in result.summary
    assert result.details["expired_leases"] == 1 and result.details["live_leases"] == 1
    assert [j["id"] for j in result.details["oldest_expired"]] == [stale.id]
    assert result.thresholds[0].setting == "JOB_LEASE_SECONDS"


# --- cross.processing_vs_consumer, kafka


async def test_processing_jobs_without_any_consumer_are_critical(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    await create_topic(ctx, ctx.settings.kafka_topic)
    assert (await check(ctx, "cross.processing_vs_consumer")).status is Status.OK
    await add_job(ctx, **processing(ctx, lease_seconds=60))
    result = await check(ctx, "cross.processing_vs_consumer")
    assert result.status is Status.CRITICAL, result.summary
    assert "has no member" in result.summary
    assert result.details["consumer_group"]["members"] == 0


async def test_processing_jobs_with_live_leases_and_a_consumer_are_ok(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    await create_topic(ctx, ctx.settings.kafka_topic)
    await add_job(ctx, **processing(ctx, lease_seconds=60))
    async with group_member(ctx):
        result = await check(ctx, "cross.processing_vs_consumer")
    assert result.status is Status.OK, result.summary
    assert result.details["consumer_group"]["members"] == 1


async def test_expired_leases_while_the_group_commits_nothing_are_critical(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    await create_topic(ctx, ctx.settings.kafka_topic)
    await produce(ctx, ctx.settings.kafka_topic, 3)
    stale = await add_job(ctx, **processing(ctx, lease_seconds=-60, age=200))
    async with group_member(ctx) as consumer:
        await commit(ctx, consumer, 1)
        result = await check(ctx, "cross.processing_vs_consumer")
    assert result.status is Status.CRITICAL, result.summary
    assert "committed nothing" in result.summary and stale.id in result.summary
    group = result.details["consumer_group"]
    assert group["committed_moved"] is False and len(group["sampled_at_seconds"]) == 3


async def test_expired_leases_while_the_group_commits_are_warn(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    await create_topic(ctx, ctx.settings.kafka_topic)
    await produce(ctx, ctx.settings.kafka_topic, 200)
    await add_job(ctx, **processing(ctx, lease_seconds=-60, age=200))

    async def keep_committing(consumer: Any) -> None:
        for offset in range(1, 200):
            await commit(ctx, consumer, offset)
            await asyncio.sleep(0.05)

    async with group_member(ctx) as consumer:
        committer = asyncio.create_task(keep_committing(consumer))
        try:
            result = await check(ctx, "cross.processing_vs_consumer")
        finally:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
    assert result.status is Status.WARN, result.summary
    assert "KAFKA_REPUBLISH_AFTER_SECONDS" in result.summary


# --- cross.orphans


async def test_an_upload_whose_file_is_missing_is_warn(db: OpsContext) -> None:
    await add_uploads(db)
    cv, _project = await add_uploads(db)
    blob_path(db, cv.storage_path).unlink()
    result = await check(db, "cross.orphans")
    assert result.status is Status.WARN, result.summary
    assert f"1 upload(s) whose file is missing (e.g. {cv.id})" in result.summary
    assert result.details["uploads_missing_file_examples"] == [cv.id]


def _age(path: Path, by: timedelta) -> None:
    past = time.time() - by.total_seconds()
    os.utime(path, (past, past))


async def test_a_stored_file_without_an_upload_is_warn_once_out_of_its_grace(
    db: OpsContext,
) -> None:
    await add_uploads(db)
    stray = blob_path(db, "cv_strayfile01")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"orphan")
    fresh = await check(db, "cross.orphans")
    assert fresh.status is Status.OK, fresh.summary  # may still be in flight
    assert fresh.details["files_in_flight"] == 1
    _age(stray, FILE_GRACE + timedelta(minutes=1))
    leftover = stray.parent / ".tmp-abc123"
    leftover.write_bytes(b"half")
    _age(leftover, FILE_GRACE + timedelta(minutes=1))
    result = await check(db, "cross.orphans")
    assert result.status is Status.WARN, result.summary
    assert "2 stored file(s) no upload references" in result.summary
    assert result.details["files_unreferenced_examples"] == [
        "01/.tmp-abc123",
        "01/cv_strayfile01",
    ]


async def test_a_result_whose_job_is_not_completed_is_warn(db: OpsContext) -> None:
    failed = await add_job(db, status=JobStatus.FAILED, finished_at=db.clock.now())
    await add_result(db, failed.id)
    result = await check(db, "cross.orphans")
    assert result.status is Status.WARN, result.summary
    assert f"1 result(s) whose job is not completed (e.g. job {failed.id}: failed)" in (
        result.summary
    )


async def test_a_result_without_its_job_is_warn(make_ops: OpsFactory) -> None:
    # Only reachable with the foreign keys off (a restore, a manual fix): SQLite lets a test
    # turn them off for one connection.
    ctx = make_ops("sqlite")
    job = await add_job(ctx, status=JobStatus.COMPLETED, finished_at=ctx.clock.now())
    await add_result(ctx, job.id)
    async with ctx.engine.connect() as connection:
        await connection.execute(text("PRAGMA foreign_keys=OFF"))
        await connection.execute(jobs.delete().where(jobs.c.id == job.id))
        await connection.commit()
        await connection.execute(text("PRAGMA foreign_keys=ON"))
    result = await check(ctx, "cross.orphans")
    assert result.status is Status.WARN, result.summary
    assert f"e.g. job {job.id}: no such job" in result.summary


async def test_a_missing_upload_store_is_named(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    await add_uploads(ctx, with_files=False)
    result = await check(ctx, "cross.orphans")
    assert result.status is Status.WARN
    assert "does not exist here but 2 upload row(s)" in result.summary


async def test_the_file_scan_is_bounded(db: OpsContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cv_evaluator.ops.checks.cross.SCAN_LIMIT", 3)
    for _ in range(3):
        await add_uploads(db)
    result = await check(db, "cross.orphans")
    assert result.status is Status.OK, result.summary
    assert result.details["files_truncated"] is True
    assert "file listing stopped after 3 files" in result.summary
    assert "only the newest 3 of 6 uploads checked" in result.summary


# --- cross.unfinished_lag


async def test_the_oldest_unfinished_job_sets_the_lag(db: OpsContext) -> None:
    now = db.clock.now()
    old_done = now - timedelta(hours=5)
    await add_job(db, status=JobStatus.COMPLETED, created_at=old_done, finished_at=now, attempts=1)
    fresh = await check(db, "cross.unfinished_lag")
    assert fresh.status is Status.OK and fresh.details["oldest_job_id"] is None

    waiting = await add_job(db, created_at=now - timedelta(seconds=400))
    warn = await check(db, "cross.unfinished_lag")
    assert warn.status is Status.WARN, warn.summary
    assert warn.details["oldest_job_id"] == waiting.id
    assert 400 <= warn.details["age_seconds"] < 460
    assert [t.setting for t in warn.thresholds] == [
        "MAINT_QUEUE_OLDEST_WARN_SECONDS",
        "MAINT_QUEUE_OLDEST_CRITICAL_SECONDS",
    ]

    stuck = await add_job(db, **processing(db, lease_seconds=60, age=2000))
    critical = await check(db, "cross.unfinished_lag")
    assert critical.status is Status.CRITICAL, critical.summary
    assert critical.details["oldest_job_id"] == stuck.id
    assert critical.details["unfinished"] == 2
    assert stuck.id in critical.summary
