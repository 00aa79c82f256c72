"""capacity_review: traffic seeded over several days gives exact per-day counts and rates."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskStatus
from cv_evaluator.ops.resources import disk_figures
from cv_evaluator.ops.tasks.capacity import capacity_review
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.storage.tables import maintenance_runs
from tests.integration.ops.conftest import OpsFactory
from tests.support.seeding import Seeded, SeedPlan, seed_jobs

# Noon, so that one-hour windows around it never cross a day boundary.
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _burst(
    ctx: OpsContext, jobs: int, age: timedelta, *, completed: float, failed: float
) -> Seeded:
    """Jobs spread over the hour that ends ``age`` before NOW."""
    oldest = age + HOUR - timedelta(seconds=60)
    plan = SeedPlan(jobs=jobs, oldest=oldest, newest=age, completed=completed, failed=failed)
    return await seed_jobs(ctx.engine, plan, now=NOW)


async def test_capacity_review_counts_traffic_per_day_and_rates(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend, app_workers=4)
    await asyncio.to_thread(upgrade, ctx.settings.database_url)
    # 10 days ago: outside the 7-day throughput window, inside the 30-day one.
    await _burst(ctx, 40, timedelta(days=10), completed=1.0, failed=0.0)
    # 3 days ago: the busiest hour, half of it failed.
    await _burst(ctx, 60, timedelta(days=3), completed=0.5, failed=0.5)
    # Yesterday: some still waiting.
    yesterday = await _burst(ctx, 20, timedelta(days=1), completed=0.6, failed=0.1)
    # 40 days ago: outside every window.
    await _burst(ctx, 7, timedelta(days=40), completed=1.0, failed=0.0)
    ctx = dataclasses.replace(ctx, clock=ManualClock(NOW))

    outcome = await capacity_review(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    figures = outcome.figures
    json.dumps(dict(figures))
    days = {d["day"]: d for d in figures["traffic"]["days"]}
    assert len(days) == 30 and "2026-03-15" in days and "2026-02-14" in days
    assert days["2026-03-05"] == {
        "day": "2026-03-05",
        "uploads": 80,  # each seeded job has its own cv and project
        "evaluations": 40,
        "completed": 40,
        "failed": 0,
    }
    assert days["2026-03-12"]["evaluations"] == 60
    assert days["2026-03-12"]["completed"] + days["2026-03-12"]["failed"] == 60
    assert days["2026-03-14"]["evaluations"] == 20
    assert days["2026-03-14"]["completed"] == yesterday.by_status["completed"]
    assert days["2026-03-13"] == {
        "day": "2026-03-13",
        "uploads": 0,
        "evaluations": 0,
        "completed": 0,
        "failed": 0,
    }
    assert sum(d["evaluations"] for d in days.values()) == 120
    assert figures["traffic"]["evaluations_per_day"] == 4.0
    assert figures["traffic"]["uploads_per_day"] == 8.0

    throughput = figures["throughput"]
    waiting = yesterday.by_status["queued"] + yesterday.by_status["processing"]
    assert throughput["arrived"] == 80
    assert throughput["ended"] == 80 - waiting
    assert throughput["backlog_change"] == waiting
    assert throughput["arrivals_per_hour"] == round(80 / 168, 3)
    assert throughput["throughput_per_hour"] == round((80 - waiting) / 168, 3)
    assert throughput["busiest_hour"] == {"hour": "2026-03-12 11", "arrivals": 59, "ended": 59}
    assert throughput["mean_processing_seconds"] == 2.0
    assert throughput["capacity_per_worker_per_hour"] == 1800.0
    assert throughput["estimated_capacity_per_hour"] == 7200.0

    storage = figures["storage"]
    assert storage["tables"]["jobs"]["rows"] == 127
    assert storage["tables"]["jobs"]["rows_added_last_30_days"] == 120
    assert storage["tables"]["jobs"]["rows_per_day"] == 4.0
    assert storage["tables"]["uploads"]["rows"] == 254
    assert storage["tables"]["jobs"]["bytes"] > 0
    assert storage["database_bytes"] > 0 and storage["growth_bytes_per_day"] > 0
    assert set(figures["configuration"]) >= {"DB_URL", "DB_POOL_SIZE", "AI_PROVIDER"}
    assert all(k.startswith(("DB_", "KAFKA_", "AI_")) for k in figures["configuration"])
    assert outcome.summary.startswith("arrivals 0.5/h (busiest hour 59) vs capacity ≈ 7200/h ")
    assert "(APP_WORKERS=4 at 2.0 s a job; peak seen 59/h)" in outcome.summary
    assert "no data-disk forecast yet (needs at least two samples)" in outcome.summary
    assert any("FROM jobs" in action for action in outcome.actions)


async def test_capacity_review_masks_the_password_and_forecasts_from_history(
    make_ops: OpsFactory,
) -> None:
    ctx = make_ops("postgresql")
    # History in which free space shrinks by 1 GiB a day, ending at today's real figure.
    free_now = int(disk_figures(ctx.settings.data_dir)["free_bytes"])
    async with ctx.engine.begin() as connection:
        for days_ago in range(10, 0, -1):
            at = NOW - timedelta(days=days_ago)
            free = free_now + days_ago * 2**30
            sample = {"at": at.isoformat(), "disk": {"data": {"free_bytes": free}}}
            await connection.execute(
                insert(maintenance_runs).values(
                    id=f"run_{days_ago}",
                    kind="run",
                    schedule="daily",
                    actor="test",
                    host="h",
                    dry_run=False,
                    status="ok",
                    started_at=at,
                    tasks=[],
                    checks={},
                    issues=[],
                    before=sample,
                    after=sample,
                )
            )
    ctx = dataclasses.replace(
        ctx,
        clock=ManualClock(NOW),
        settings=ctx.settings.model_copy(
            update={"db_url": ctx.settings.database_url.replace("postgres@", "postgres:s3cret@")}
        ),
    )

    outcome = await capacity_review(ctx, True)

    assert outcome.status is TaskStatus.PLANNED
    assert "s3cret" not in json.dumps(dict(outcome.figures))
    assert ":***@" in outcome.figures["configuration"]["DB_URL"]
    data = outcome.figures["disks"]["data"]["forecast"]
    assert data["samples"] == 21
    # The free space measured now differs a little from the history's last value: a tolerance.
    assert abs(data["growth_bytes_per_day"] - 2**30) < 2**30 * 0.05
    expected_days = free_now / 2**30
    assert abs(data["days_until_full"] - expected_days) < expected_days * 0.05 + 1
    assert f"data disk full in {data['days_until_full']:.0f} days at the current rate" in (
        outcome.summary
    )
