"""The database-queue checks on seeded jobs, on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.jobs import Job, JobStatus
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, Status
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_check
from cv_evaluator.storage.rows import job_to_row, upload_to_row
from cv_evaluator.storage.tables import jobs, uploads
from tests.integration.ops.conftest import OpsFactory
from tests.support.builders import make_job, make_upload


async def check(ctx: OpsContext, name: str) -> CheckResult:
    (spec,) = select_checks([name])
    return await run_check(ctx, spec)


class Seeder:
    """Inserts jobs rows as the service writes them, at times relative to the context's clock."""

    def __init__(self, ctx: OpsContext) -> None:
        self.ctx = ctx
        self.uploads: tuple[str, str] | None = None

    async def _inputs(self) -> tuple[str, str]:
        if self.uploads is None:
            cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
            async with self.ctx.engine.begin() as connection:
                await connection.execute(
                    insert(uploads), [upload_to_row(cv), upload_to_row(project)]
                )
            self.uploads = (cv.id, project.id)
        return self.uploads

    async def add(self, count: int = 1, *, ago: float = 0.0, **changes: Any) -> list[Job]:
        """``count`` jobs created ``ago`` seconds ago; ``changes`` override their fields."""
        cv_id, project_id = await self._inputs()
        at = self.ctx.clock.now() - timedelta(seconds=ago)
        cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
        added = []
        for _ in range(count):
            job = make_job(cv, project, at=at)
            job = replace(
                job, inputs=replace(job.inputs, cv_id=cv_id, project_id=project_id), **changes
            )
            added.append(job)
        async with self.ctx.engine.begin() as connection:
            await connection.execute(insert(jobs), [job_to_row(job) for job in added])
        return added

    async def ended(
        self, count: int, status: JobStatus, *, ago: float, code: str | None = None
    ) -> None:
        finished = self.ctx.clock.now() - timedelta(seconds=ago)
        await self.add(
            count,
            ago=ago + 30,
            status=status,
            attempts=1,
            started_at=finished - timedelta(seconds=5),
            finished_at=finished,
            error_code=code,
        )


# --- depth ----------------------------------------------------------------------------------


async def test_depth_counts_due_and_later_jobs(make_ops: OpsFactory, backend: str) -> None:
    ctx = make_ops(backend, maint_queue_depth_warn=4, maint_queue_depth_critical=6)
    seed = Seeder(ctx)
    empty = await check(ctx, "queue.depth")
    assert empty.status is Status.OK and empty.details["depth"] == 0
    assert [t.setting for t in empty.thresholds] == [
        "MAINT_QUEUE_DEPTH_WARN",
        "MAINT_QUEUE_DEPTH_CRITICAL",
    ]
    await seed.add(3, ago=10)
    later = ctx.clock.now() + timedelta(minutes=5)
    await seed.add(2, available_at=later)
    await seed.add(
        1, status=JobStatus.PROCESSING, attempts=1, lease_owner="w", lease_expires_at=later
    )
    result = await check(ctx, "queue.depth")
    assert result.status is Status.WARN, result.summary
    assert result.details == {"depth": 5, "due": 3, "scheduled_later": 2, "processing": 1}
    assert result.summary.startswith(
        "5 job(s) queued (3 due now, 2 waiting for a retry later), 1 processing"
    )
    await seed.add(2)
    assert (await check(ctx, "queue.depth")).status is Status.CRITICAL


# --- oldest ---------------------------------------------------------------------------------


async def test_oldest_due_job_age(make_ops: OpsFactory, backend: str) -> None:
    ctx = make_ops(
        backend,
        maint_queue_oldest_warn_seconds=60,
        maint_queue_oldest_critical_seconds=600,
    )
    seed = Seeder(ctx)
    empty = await check(ctx, "queue.oldest")
    assert empty.status is Status.OK
    assert empty.details["oldest_age_seconds"] == 0.0
    # A retry scheduled for later is not waiting yet; a job due 10 s ago is fine.
    await seed.add(ago=3600, available_at=ctx.clock.now() + timedelta(minutes=1))
    await seed.add(ago=10)
    ok = await check(ctx, "queue.oldest")
    assert ok.status is Status.OK, ok.summary
    assert 9 <= ok.details["oldest_age_seconds"] < 60
    (old,) = await seed.add(ago=120)
    warn = await check(ctx, "queue.oldest")
    assert warn.status is Status.WARN
    assert warn.details["job_id"] == old.id
    assert warn.summary.startswith(f"oldest due job {old.id} has waited 12")
    await seed.add(ago=900)
    critical = await check(ctx, "queue.oldest")
    assert critical.status is Status.CRITICAL
    assert critical.details["oldest_age_seconds"] >= 900


# --- expired leases -------------------------------------------------------------------------


async def test_expired_leases_warn_then_critical_when_nobody_reclaims(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend, job_lease_seconds=10)
    seed = Seeder(ctx)
    now = ctx.clock.now()

    def claimed(owner: str, expires_in: float) -> dict[str, Any]:
        return {
            "status": JobStatus.PROCESSING,
            "attempts": 1,
            "started_at": now - timedelta(seconds=60),
            "lease_owner": owner,
            "lease_expires_at": now + timedelta(seconds=expires_in),
        }

    await seed.add(ago=60, **claimed("host-a:1:w0", 5))  # a live lease
    ok = await check(ctx, "queue.expired_leases")
    assert ok.status is Status.OK and ok.details["expired"] == 0
    assert ok.thresholds[0].setting == "JOB_LEASE_SECONDS"
    (stalled,) = await seed.add(ago=60, **claimed("host-b:2:w1", -30))
    warn = await check(ctx, "queue.expired_leases")
    assert warn.status is Status.WARN, warn.summary
    assert warn.details["expired"] == 1
    (entry,) = warn.details["jobs"]
    assert entry["job_id"] == stalled.id and entry["lease_owner"] == "host-b:2:w1"
    assert 30 <= entry["overdue_seconds"] < 60
    assert "host-b:2:w1 (1)" in warn.summary
    (dead,) = await seed.add(ago=600, **claimed("host-c:3:w0", -500))
    critical = await check(ctx, "queue.expired_leases")
    assert critical.status is Status.CRITICAL, critical.summary
    assert critical.details["jobs"][0]["job_id"] == dead.id  # the most overdue first
    assert "no worker is reclaiming them" in critical.summary


# --- failures -------------------------------------------------------------------------------


async def test_failures_too_few_jobs_to_judge(make_ops: OpsFactory, backend: str) -> None:
    ctx = make_ops(backend, maint_queue_failure_min_jobs=10)
    seed = Seeder(ctx)
    await seed.ended(5, JobStatus.FAILED, ago=60, code="EVALUATOR_FAILED")
    result = await check(ctx, "queue.failures")
    assert result.status is Status.OK
    assert result.summary == (
        "5 of 5 job(s) ended in the last hour failed: too few jobs to judge (needs 10)"
    )


async def test_failures_ratio_warn_then_critical_with_codes(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend, maint_queue_failure_min_jobs=10)
    seed = Seeder(ctx)
    await seed.ended(18, JobStatus.COMPLETED, ago=600)
    await seed.ended(2, JobStatus.FAILED, ago=300, code="DOCUMENT_UNREADABLE")
    # Outside the hour: counted in the all-time figures only.
    await seed.ended(40, JobStatus.FAILED, ago=7200, code="EVALUATOR_TIMEOUT")
    await seed.ended(40, JobStatus.COMPLETED, ago=7200)
    warn = await check(ctx, "queue.failures")
    assert warn.status is Status.WARN, warn.summary
    assert warn.details["completed"] == 18 and warn.details["failed"] == 2
    assert warn.details["failure_ratio"] == 0.1
    assert warn.details["failed_by_code_last_hour"] == {"DOCUMENT_UNREADABLE": 2}
    assert warn.details["failed_by_code_all_time"] == {
        "EVALUATOR_TIMEOUT": 40,
        "DOCUMENT_UNREADABLE": 2,
    }
    assert "most common: DOCUMENT_UNREADABLE (2)" in warn.summary
    await seed.ended(5, JobStatus.FAILED, ago=60, code="EVALUATOR_TIMEOUT")
    critical = await check(ctx, "queue.failures")
    assert critical.status is Status.CRITICAL
    assert critical.summary.startswith("7 of 25 job(s) ended in the last hour failed (28.0%)")
    assert critical.details["failed_by_code_last_hour"] == {
        "EVALUATOR_TIMEOUT": 5,
        "DOCUMENT_UNREADABLE": 2,
    }


async def test_queue_checks_do_not_apply_to_kafka(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite", queue_backend="kafka")
    for name in ("queue.depth", "queue.oldest", "queue.expired_leases", "queue.failures"):
        result = await check(ctx, name)
        assert result.status is Status.SKIPPED
        assert result.summary == "does not apply: the queue is Kafka (QUEUE_BACKEND=kafka)"
