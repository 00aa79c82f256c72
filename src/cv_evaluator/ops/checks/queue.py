"""Checks of the database queue (QUEUE_BACKEND=db): depth, waiting time, dead leases, failures.

Every figure comes from the jobs table with read-only SELECTs; times are judged against the
injected clock, the one the workers use for leases.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from cv_evaluator.domain.jobs import JobStatus
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.grading import above
from cv_evaluator.ops.model import Outcome, Status, Threshold
from cv_evaluator.ops.registry import check, needs_db_queue
from cv_evaluator.storage.tables import jobs

GROUP = "queue"
# A lease overdue by this many lease periods is not waiting for the next claim: nothing reclaims.
DEAD_LEASE_FACTOR = 10
LISTED_JOBS = 20
FAILURE_WINDOW = timedelta(hours=1)


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 1)


@check(
    "queue.depth",
    group=GROUP,
    description="Jobs waiting in the queue: due now, and scheduled for a retry later.",
    applies=needs_db_queue,
)
async def depth(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_queue_depth_warn", "warn above", "jobs")
    critical = ctx.threshold("maint_queue_depth_critical", "critical above", "jobs")
    now = ctx.clock.now()
    queued = jobs.c.status == JobStatus.QUEUED.value
    query = select(
        func.count().filter(queued),
        func.count().filter(and_(queued, jobs.c.available_at <= now)),
        func.count().filter(jobs.c.status == JobStatus.PROCESSING.value),
    ).where(
        # Only the waiting and running jobs: the status index finds them without reading the
        # (much larger) history of ended jobs.
        jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.PROCESSING.value])
    )
    async with ctx.engine.connect() as connection:
        total, due, processing = (await connection.execute(query)).one()
    total, due, processing = int(total), int(due), int(processing)
    later = total - due
    details = {"depth": total, "due": due, "scheduled_later": later, "processing": processing}
    status = above(total, warn, critical)
    summary = (
        f"{total} job(s) queued ({due} due now, {later} waiting for a retry later), "
        f"{processing} processing"
    )
    if status is not Status.OK:
        summary += (
            "; workers are not keeping up: check that workers run (service.processes), "
            "queue.oldest and queue.failures, then add worker processes"
        )
    return Outcome(status, summary, details, [warn, critical])


@check(
    "queue.oldest",
    group=GROUP,
    description="How long the oldest due job has been waiting to be claimed.",
    applies=needs_db_queue,
)
async def oldest(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_queue_oldest_warn_seconds", "warn above", "s")
    critical = ctx.threshold("maint_queue_oldest_critical_seconds", "critical above", "s")
    now = ctx.clock.now()
    query = (
        select(jobs.c.id, jobs.c.available_at, jobs.c.created_at, jobs.c.attempts)
        .where(jobs.c.status == JobStatus.QUEUED.value, jobs.c.available_at <= now)
        .order_by(jobs.c.available_at, jobs.c.id)
        .limit(1)
    )
    async with ctx.engine.connect() as connection:
        row = (await connection.execute(query)).first()
    if row is None:
        return Outcome(
            Status.OK,
            "no job waiting to be claimed",
            {"oldest_age_seconds": 0.0, "job_id": None},
            [warn, critical],
        )
    age = max(0.0, _seconds(now - row.available_at))
    details = {
        "oldest_age_seconds": age,
        "job_id": row.id,
        "available_at": row.available_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "attempts": row.attempts,
    }
    status = above(age, warn, critical)
    summary = f"oldest due job {row.id} has waited {age:.0f} s to be claimed"
    if status is not Status.OK:
        summary += (
            "; no worker is claiming or all are busy: check service.processes and the worker "
            "logs, then add workers"
        )
    return Outcome(status, summary, details, [warn, critical])


@check(
    "queue.expired_leases",
    group=GROUP,
    description="Jobs still 'processing' after their lease expired (a worker died or stalled).",
    applies=needs_db_queue,
)
async def expired_leases(ctx: OpsContext) -> Outcome:
    lease = ctx.settings.job_lease_seconds
    critical = Threshold(
        label=f"critical when a lease is overdue by more than {DEAD_LEASE_FACTOR} ×",
        value=lease,
        unit="s",
        setting="JOB_LEASE_SECONDS",
        default=type(ctx.settings).model_fields["job_lease_seconds"].default,
    )
    now = ctx.clock.now()
    query = (
        select(jobs.c.id, jobs.c.lease_owner, jobs.c.lease_expires_at, jobs.c.attempts)
        .where(
            jobs.c.status == JobStatus.PROCESSING.value,
            jobs.c.lease_expires_at < now,
        )
        .order_by(jobs.c.lease_expires_at, jobs.c.id)
    )
    async with ctx.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    limit = DEAD_LEASE_FACTOR * lease
    expired = [
        {
            "job_id": row.id,
            "lease_owner": row.lease_owner,
            "lease_expires_at": row.lease_expires_at.isoformat(),
            "overdue_seconds": _seconds(now - row.lease_expires_at),
            "attempts": row.attempts,
        }
        for row in rows
    ]
    owners = Counter(str(e["lease_owner"]) for e in expired)
    details: dict[str, Any] = {
        "expired": len(expired),
        "jobs": expired[:LISTED_JOBS],
        "by_owner": dict(owners),
        "dead_after_seconds": limit,
    }
    if not expired:
        return Outcome(Status.OK, "no expired lease", details, [critical])
    worst_job = expired[0]
    overdue = float(worst_job["overdue_seconds"])
    owners_text = ", ".join(f"{owner} ({count})" for owner, count in owners.most_common(3))
    if overdue > limit:
        return Outcome(
            Status.CRITICAL,
            f"{len(expired)} job(s) past their lease, the worst {worst_job['job_id']} by "
            f"{overdue:.0f} s (> {limit:g} s): no worker is reclaiming them; start workers "
            f"(lease owners: {owners_text})",
            details,
            [critical],
        )
    return Outcome(
        Status.WARN,
        f"{len(expired)} job(s) past their lease, the worst {worst_job['job_id']} by "
        f"{overdue:.0f} s: a worker died or stalled; the next claim reclaims them "
        f"(lease owners: {owners_text})",
        details,
        [critical],
    )


async def _failures_by_code(ctx: OpsContext, since: datetime | None) -> dict[str, int]:
    condition = jobs.c.status == JobStatus.FAILED.value
    if since is not None:
        condition = and_(condition, jobs.c.finished_at >= since)
    query = (
        select(jobs.c.error_code, func.count())
        .where(condition)
        .group_by(jobs.c.error_code)
        .order_by(func.count().desc(), jobs.c.error_code)
    )
    async with ctx.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return {str(code or "unknown"): int(count) for code, count in rows}


@check(
    "queue.failures",
    group=GROUP,
    description="Failed over ended jobs in the last hour, with the failures by error code.",
    applies=needs_db_queue,
)
async def failures(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_queue_failure_ratio_warn", "warn above", "failed/ended")
    critical = ctx.threshold("maint_queue_failure_ratio_critical", "critical above", "failed/ended")
    minimum = ctx.threshold("maint_queue_failure_min_jobs", "judged from", "ended jobs")
    thresholds = [warn, critical, minimum]
    since = ctx.clock.now() - FAILURE_WINDOW
    query = select(
        func.count().filter(jobs.c.status == JobStatus.COMPLETED.value),
        func.count().filter(jobs.c.status == JobStatus.FAILED.value),
    ).where(jobs.c.finished_at >= since)
    async with ctx.engine.connect() as connection:
        completed, failed = (await connection.execute(query)).one()
    completed, failed = int(completed), int(failed)
    ended = completed + failed
    ratio = failed / ended if ended else 0.0
    last_hour = await _failures_by_code(ctx, since)
    details: dict[str, Any] = {
        "window_seconds": FAILURE_WINDOW.total_seconds(),
        "completed": completed,
        "failed": failed,
        "failure_ratio": round(ratio, 4),
        "failed_by_code_last_hour": last_hour,
        "failed_by_code_all_time": await _failures_by_code(ctx, None),
    }
    counts = f"{failed} of {ended} job(s) ended in the last hour failed"
    if ended < ctx.settings.maint_queue_failure_min_jobs:
        return Outcome(
            Status.OK,
            f"{counts}: too few jobs to judge (needs {ctx.settings.maint_queue_failure_min_jobs})",
            details,
            thresholds,
        )
    status = above(ratio, warn, critical)
    summary = f"{counts} ({ratio:.1%})"
    if status is not Status.OK:
        top = ", ".join(f"{code} ({count})" for code, count in list(last_hour.items())[:3])
        summary += (
            f"; most common: {top}; read the error messages of those jobs and the worker logs"
        )
    return Outcome(status, summary, details, thresholds)
