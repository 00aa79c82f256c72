"""analyze and vacuum_analyze against real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskStatus
from cv_evaluator.ops.tasks.database import SERVICE_TABLES, analyze, vacuum_analyze
from cv_evaluator.storage.engine import sqlite_path
from cv_evaluator.storage.migrate import upgrade
from tests.integration.ops.conftest import OpsFactory
from tests.support.seeding import SeedPlan, seed_jobs

T = TypeVar("T")


async def _migrated(ctx: OpsContext) -> OpsContext:
    # make_ops hands out a fresh SQLite path; the schema is built here (a no-op on PostgreSQL).
    await asyncio.to_thread(upgrade, ctx.settings.database_url)
    return ctx


async def _eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 10
) -> T:
    """PostgreSQL publishes table statistics asynchronously: poll until they show the change."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s: last {value!r}")
        await asyncio.sleep(0.05)


async def _pg_stats(ctx: OpsContext) -> dict[str, dict[str, Any]]:
    async with ctx.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT relname, last_analyze, last_vacuum, n_dead_tup "
                    "FROM pg_stat_user_tables WHERE schemaname = 'public'"
                )
            )
        ).all()
    return {row.relname: dict(row._mapping) for row in rows}


async def _sqlite_stat_rows(ctx: OpsContext) -> dict[str, int] | None:
    async with ctx.engine.connect() as connection:
        exists = (
            await connection.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            )
        ).scalar_one()
        if not exists:
            return None
        rows = (
            await connection.exec_driver_sql("SELECT tbl, count(*) FROM sqlite_stat1 GROUP BY tbl")
        ).all()
    return {str(table): int(count) for table, count in (tuple(row) for row in rows)}


async def test_analyze_gathers_statistics_for_every_service_table(ops: OpsContext) -> None:
    ctx = await _migrated(ops)
    await seed_jobs(ctx.engine, SeedPlan(jobs=300, oldest=timedelta(days=3)))
    pg_before = await _pg_stats(ctx) if ctx.is_postgresql else {}
    sqlite_before = await _sqlite_stat_rows(ctx) if ctx.is_sqlite else None

    outcome = await analyze(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    assert outcome.figures["tables_analyzed"] == len(SERVICE_TABLES)
    assert set(outcome.figures["seconds_per_table"]) == set(SERVICE_TABLES)
    assert "analysed 5 tables" in outcome.summary
    assert [a for a in outcome.actions if a.startswith("ANALYZE")] == [
        f"ANALYZE {t}" for t in SERVICE_TABLES
    ]
    if ctx.is_postgresql:
        assert all(pg_before[t]["last_analyze"] is None for t in SERVICE_TABLES)
        assert outcome.actions[:2] == [
            "SET lock_timeout = '5000ms'",
            "SET statement_timeout = '600000ms'",
        ]
        stats = await _eventually(
            lambda: _pg_stats(ctx),
            lambda s: all(s[t]["last_analyze"] is not None for t in SERVICE_TABLES),
        )
        assert set(SERVICE_TABLES) <= set(stats)
    else:
        assert sqlite_before is None
        stat_rows = await _sqlite_stat_rows(ctx)
        assert stat_rows is not None and {"jobs", "uploads", "results"} <= set(stat_rows)
        assert outcome.actions[-1] == "PRAGMA optimize"


async def test_analyze_dry_run_lists_the_sql_and_changes_nothing(ops: OpsContext) -> None:
    ctx = await _migrated(ops)
    await seed_jobs(ctx.engine, SeedPlan(jobs=50, oldest=timedelta(days=1)))

    outcome = await analyze(ctx, True)

    assert outcome.status is TaskStatus.PLANNED
    assert "ANALYZE jobs" in outcome.actions
    assert outcome.summary.startswith("would analyse 5 tables")
    if ctx.is_postgresql:
        assert "SET statement_timeout = '600000ms'" in outcome.actions
        # A barrier instead of a sleep: once an ANALYZE issued after the dry run shows up in
        # the statistics, one the dry run had issued would show too.
        async with ctx.engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE alembic_version")
            await connection.commit()
        stats = await _eventually(
            lambda: _pg_stats(ctx), lambda s: s["alembic_version"]["last_analyze"] is not None
        )
        assert all(stats[t]["last_analyze"] is None for t in SERVICE_TABLES)
    else:
        assert await _sqlite_stat_rows(ctx) is None


async def test_analyze_gives_up_on_a_locked_table_and_says_so(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql", maint_pg_lock_timeout_seconds=0.2)
    async with ctx.engine.connect() as holder:
        await holder.execute(text("LOCK TABLE results IN ACCESS EXCLUSIVE MODE"))

        outcome = await analyze(ctx, False)

        await holder.rollback()
    assert outcome.status is TaskStatus.FAILED
    assert outcome.figures["tables_analyzed"] == len(SERVICE_TABLES) - 1
    assert outcome.figures["failures"] == {
        "results": "lock not obtained within 0.2 s (MAINT_PG_LOCK_TIMEOUT_SECONDS)"
    }
    assert "not analysed: results: lock not obtained" in outcome.summary
    assert "SET lock_timeout = '200ms'" in outcome.actions
    # The maintenance connection went back to the pool without the task's time limits: every
    # pooled connection (the pool holds five) has the server's default again.
    async with AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(ctx.engine.connect()) for _ in range(5)]
        settings = [
            (await c.exec_driver_sql("SHOW lock_timeout")).scalar_one() for c in connections
        ]
    assert settings == ["0"] * 5


async def _delete_most_jobs(ctx: OpsContext) -> None:
    async with ctx.engine.begin() as connection:
        await connection.exec_driver_sql("DELETE FROM results")
        await connection.exec_driver_sql("DELETE FROM callbacks")
        await connection.exec_driver_sql("DELETE FROM jobs")
        await connection.exec_driver_sql("DELETE FROM uploads")


async def test_vacuum_on_postgresql_reclaims_dead_rows(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await seed_jobs(ctx.engine, SeedPlan(jobs=2000, oldest=timedelta(days=3)))
    await _delete_most_jobs(ctx)
    await _eventually(lambda: _pg_stats(ctx), lambda s: s["jobs"]["n_dead_tup"] >= 2000)

    planned = await vacuum_analyze(ctx, True)
    assert planned.status is TaskStatus.PLANNED
    assert "VACUUM (ANALYZE) jobs" in planned.actions
    assert planned.figures["tables"]["jobs"]["before"]["dead_tuples"] >= 2000
    assert (await _pg_stats(ctx))["jobs"]["last_vacuum"] is None

    outcome = await vacuum_analyze(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    jobs_figures = outcome.figures["tables"]["jobs"]
    assert jobs_figures["before"]["dead_tuples"] >= 2000
    assert jobs_figures["after"]["dead_tuples"] == 0
    assert jobs_figures["before"]["bytes"] > 0 and jobs_figures["seconds"] >= 0
    assert outcome.figures["dead_tuples_before"] > outcome.figures["dead_tuples_after"]
    assert outcome.actions[:2] == [
        "SET lock_timeout = '5000ms'",
        "SET statement_timeout = '600000ms'",
    ]
    stats = await _eventually(
        lambda: _pg_stats(ctx),
        lambda s: all(s[t]["last_vacuum"] is not None for t in SERVICE_TABLES),
    )
    assert all(isinstance(stats[t]["last_analyze"], datetime) for t in SERVICE_TABLES)


async def test_vacuum_on_sqlite_shrinks_the_file_and_truncates_the_wal(
    make_ops: OpsFactory,
) -> None:
    ctx = await _migrated(make_ops("sqlite"))
    path = sqlite_path(ctx.settings.database_url)
    assert path is not None
    await seed_jobs(ctx.engine, SeedPlan(jobs=3000, oldest=timedelta(days=3), text_bytes=2000))
    await _delete_most_jobs(ctx)

    planned = await vacuum_analyze(ctx, True)
    assert planned.status is TaskStatus.PLANNED
    assert planned.actions == ["VACUUM", "PRAGMA optimize", "PRAGMA wal_checkpoint(TRUNCATE)"]
    size_before = path.stat().st_size

    outcome = await vacuum_analyze(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    figures = outcome.figures
    assert figures["vacuum"] is True and figures["lock_held_seconds"] > 0
    assert figures["before"]["free_ratio"] > 0.5
    assert figures["file_bytes_before"] == size_before
    assert figures["file_bytes_after"] < size_before / 3
    assert path.stat().st_size == figures["file_bytes_after"]
    assert figures["wal_bytes_after"] == 0 and figures["checkpoint_complete"] is True
    assert outcome.summary.startswith("VACUUM: file ")
    assert "write lock held" in outcome.summary


async def test_vacuum_on_sqlite_skips_a_file_with_little_free_space(make_ops: OpsFactory) -> None:
    ctx = await _migrated(make_ops("sqlite"))
    await seed_jobs(ctx.engine, SeedPlan(jobs=500, oldest=timedelta(days=3)))
    wal = ctx.settings.data_dir / "app.db-wal"
    assert wal.stat().st_size > 0

    outcome = await vacuum_analyze(ctx, False)

    assert outcome.status is TaskStatus.OK
    assert outcome.figures["vacuum"] is False
    assert outcome.figures["lock_held_seconds"] is None
    assert outcome.summary.startswith("VACUUM skipped: only 0% reclaimable (runs above 25%")
    assert "VACUUM" not in outcome.actions
    assert outcome.figures["wal_bytes_before"] > 0 and outcome.figures["wal_bytes_after"] == 0
    assert wal.stat().st_size == 0


@pytest.mark.parametrize("task", [analyze, vacuum_analyze])
async def test_tasks_report_json_serialisable_figures(
    ops: OpsContext, task: Callable[[OpsContext, bool], Awaitable[Any]]
) -> None:
    import json

    ctx = await _migrated(ops)
    for dry_run in (True, False):
        outcome = await task(ctx, dry_run)
        json.dumps(dict(outcome.figures))
