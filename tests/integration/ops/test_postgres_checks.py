"""The PostgreSQL checks against a real server: every WARN and CRITICAL is produced for real."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.ops import registry
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, Status
from cv_evaluator.ops.runner import run_check
from tests.integration.ops.conftest import OpsFactory
from tests.support.postgres import PostgresServer

DEADLINE = 10.0


def spec(name: str) -> registry.CheckSpec:
    return next(s for s in registry.all_checks() if s.name == name)


async def check(ctx: OpsContext, name: str) -> CheckResult:
    result = await run_check(ctx, spec(name))
    json.dumps(result.as_dict())  # every result must serialise as it is
    return result


async def eventually(
    ctx: OpsContext, name: str, wanted: Callable[[CheckResult], bool]
) -> CheckResult:
    """Runs the check until ``wanted`` holds (statistics arrive asynchronously) or the deadline."""
    deadline = time.monotonic() + DEADLINE
    while True:
        result = await check(ctx, name)
        if wanted(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def status_is(status: Status) -> Callable[[CheckResult], bool]:
    return lambda result: result.status is status


def libpq_url(ctx: OpsContext) -> str:
    url = make_url(ctx.settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@asynccontextmanager
async def connect(
    ctx: OpsContext, *, autocommit: bool = True
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(libpq_url(ctx), autocommit=autocommit) as conn:
        yield conn


async def admin(ctx: OpsContext, *statements: str) -> None:
    """Runs set-up statements as the superuser, publishing the statistics of each at once.

    A session's counters reach the shared statistics lazily; a VACUUM in between would
    otherwise be overtaken by the counts of the statements before it.
    """
    async with connect(ctx) as conn:
        for statement in statements:
            await conn.execute(statement.encode())
            await conn.execute("SELECT pg_stat_force_next_flush()")


def with_settings(ctx: OpsContext, make_ops: OpsFactory, **overrides: Any) -> OpsContext:
    """Another context on the same database with other thresholds."""
    return make_ops("postgresql", db_url=ctx.settings.database_url, **overrides)


# --- a fresh database --------------------------------------------------------------------


async def test_fresh_database_is_healthy_on_every_check(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    postgres_checks = [s for s in registry.all_checks() if s.group == "postgresql"]
    assert {s.name for s in postgres_checks} == {
        "postgres.database_health",
        "postgres.long_queries",
        "postgres.blocked_queries",
        "postgres.database_size",
        "postgres.bloat",
        "postgres.vacuum",
        "postgres.unused_indexes",
        "postgres.duplicate_indexes",
        "postgres.invalid_indexes",
        "postgres.index_usage",
        "postgres.connections",
        "postgres.wraparound",
        "postgres.slow_queries",
    }
    for each in postgres_checks:
        result = await check(ctx, each.name)
        expected = Status.SKIPPED if each.name == "postgres.slow_queries" else Status.OK
        assert result.status is expected, (each.name, result.summary, result.details)
        assert result.summary
    slow = await check(ctx, "postgres.slow_queries")
    assert "shared_preload_libraries = 'pg_stat_statements'" in slow.summary
    assert "restart" in slow.summary
    assert "CREATE EXTENSION pg_stat_statements;" in slow.summary


async def test_checks_skip_on_sqlite(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    result = await check(ctx, "postgres.connections")
    assert result.status is Status.SKIPPED
    assert "SQLite" in result.summary


# --- database health -----------------------------------------------------------------------


async def test_database_health_warns_on_rollbacks(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    ok = await check(ctx, "postgres.database_health")
    assert ok.status is Status.OK
    assert ok.details["rollback_ratio_judged"] is False  # too few transactions to judge
    assert {t.setting for t in ok.thresholds} == {
        "MAINT_PG_ROLLBACK_RATIO_WARN",
        "MAINT_PG_CACHE_HIT_RATIO_WARN",
    }
    async with connect(ctx, autocommit=False) as conn:
        for _ in range(1100):
            await conn.execute("SELECT 1")
            await conn.rollback()
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.commit()
    result = await eventually(ctx, "postgres.database_health", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    assert "rolled back" in result.summary
    assert result.details["rollback_ratio_judged"] is True
    assert result.details["rollbacks"] >= 1100


async def test_database_health_warns_on_cache_misses(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    # A temporary table larger than temp_buffers is read back from the OS on every scan:
    # genuine buffer misses, counted in blks_read.
    await admin(
        ctx,
        "CREATE TEMP TABLE big AS SELECT g, repeat('x', 500) AS pad "
        "FROM generate_series(1, 45000) g",
        *["SELECT count(*) FROM big"] * 4,
    )
    result = await eventually(ctx, "postgres.database_health", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    assert "cache hit ratio" in result.summary
    assert result.details["cache_hit_ratio_judged"] is True
    assert result.details["cache_hit_ratio"] < 0.99


async def test_database_health_warns_on_a_deadlock(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await admin(
        ctx,
        "CREATE TABLE pair (id int PRIMARY KEY, v int)",
        "INSERT INTO pair VALUES (1, 0), (2, 0)",
    )
    async with connect(ctx, autocommit=False) as first, connect(ctx, autocommit=False) as second:
        for conn in (first, second):
            await conn.execute("SET deadlock_timeout = '50ms'")
        await first.execute("UPDATE pair SET v = 1 WHERE id = 1")
        await second.execute("UPDATE pair SET v = 1 WHERE id = 2")
        outcomes = await asyncio.gather(
            first.execute("UPDATE pair SET v = 2 WHERE id = 2"),
            second.execute("UPDATE pair SET v = 2 WHERE id = 1"),
            return_exceptions=True,
        )
        assert any(isinstance(o, psycopg.errors.DeadlockDetected) for o in outcomes)
        for conn in (first, second):
            await conn.rollback()
            await conn.execute("SELECT pg_stat_force_next_flush()")
            await conn.rollback()
    result = await eventually(ctx, "postgres.database_health", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    assert result.details["deadlocks"] == 1
    assert "1 deadlock(s)" in result.summary
    assert "stats_reset" in result.details


# --- activity --------------------------------------------------------------------------------


async def test_long_queries_warn_then_critical(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    warn_ctx = with_settings(
        ctx,
        make_ops,
        maint_pg_long_query_warn_seconds=0.2,
        maint_pg_long_query_critical_seconds=3600,
    )
    critical_ctx = with_settings(
        ctx,
        make_ops,
        maint_pg_long_query_warn_seconds=0.2,
        maint_pg_long_query_critical_seconds=0.6,
    )
    assert (await check(warn_ctx, "postgres.long_queries")).status is Status.OK
    async with (
        connect(ctx) as sleeper,
        connect(ctx, autocommit=False) as idle,
        connect(ctx) as controller,
    ):
        sleeper_pid = sleeper.info.backend_pid
        idle_pid = idle.info.backend_pid
        sleeping = asyncio.create_task(sleeper.execute("SELECT pg_sleep(30) /* long one */"))
        await idle.execute("SELECT 1")  # opens a transaction and leaves it open
        try:
            warned = await eventually(
                warn_ctx,
                "postgres.long_queries",
                lambda r: (
                    {s["pid"] for s in r.details.get("sessions", [])} >= {sleeper_pid, idle_pid}
                ),
            )
            assert warned.status is Status.WARN, warned.summary
            sessions = {s["pid"]: s for s in warned.details["sessions"]}
            assert sessions[sleeper_pid]["state"] == "active"
            assert sessions[sleeper_pid]["query"] == "SELECT pg_sleep(30) /* long one */"
            assert sessions[idle_pid]["state"] == "idle in transaction"
            assert sessions[sleeper_pid]["user"] == "postgres"
            assert {"application", "seconds"} <= set(sessions[sleeper_pid])
            assert warned.details["visibility"] == "full"
            critical = await eventually(
                critical_ctx, "postgres.long_queries", status_is(Status.CRITICAL)
            )
            assert critical.status is Status.CRITICAL, critical.summary
            assert "pg_cancel_backend" in critical.summary
        finally:
            await controller.execute("SELECT pg_cancel_backend(%s)", [sleeper_pid])
            with pytest.raises(psycopg.errors.QueryCanceled):
                await sleeping
            await idle.rollback()
    after = await eventually(warn_ctx, "postgres.long_queries", status_is(Status.OK))
    assert after.status is Status.OK, after.summary


async def test_blocked_query_names_the_blocker(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql", maint_pg_blocked_warn_seconds=0.2)
    await admin(
        ctx,
        "CREATE TABLE account (id int PRIMARY KEY, balance int)",
        "INSERT INTO account VALUES (1, 10)",
    )
    assert (await check(ctx, "postgres.blocked_queries")).status is Status.OK
    async with connect(ctx, autocommit=False) as holder, connect(ctx) as waiter:
        holder_pid = holder.info.backend_pid
        waiter_pid = waiter.info.backend_pid
        await holder.execute("SELECT * FROM account WHERE id = 1 FOR UPDATE")
        waiting = asyncio.create_task(
            waiter.execute("UPDATE account SET balance = balance + 1 WHERE id = 1")
        )
        try:
            result = await eventually(ctx, "postgres.blocked_queries", status_is(Status.WARN))
            assert result.status is Status.WARN, result.summary
            blocked = result.details["waiting"][0]
            assert blocked["pid"] == waiter_pid
            assert blocked["blocking_pids"] == [holder_pid]
            assert blocked["wait_seconds"] > 0.2
            assert blocked["query"].startswith("UPDATE account")
            assert result.details["blocking_sessions"][0]["state"] == "idle in transaction"
            assert f"held by pid {holder_pid}" in result.summary
        finally:
            await holder.rollback()
            await waiting
    assert (await check(ctx, "postgres.blocked_queries")).status is Status.OK


async def test_connections_against_max_connections(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    ok = await check(ctx, "postgres.connections")
    assert ok.status is Status.OK
    assert ok.details["max"] == 200
    assert ok.details["in_use"] >= 1
    async with connect(ctx), connect(ctx):
        warn = await check(
            with_settings(
                ctx,
                make_ops,
                maint_pg_connections_warn_ratio=2 / 197,
                maint_pg_connections_critical_ratio=1.0,
            ),
            "postgres.connections",
        )
        critical = await check(
            with_settings(
                ctx,
                make_ops,
                maint_pg_connections_warn_ratio=0.001,
                maint_pg_connections_critical_ratio=0.002,
            ),
            "postgres.connections",
        )
    assert warn.status is Status.WARN, warn.summary
    assert warn.details["in_use"] >= 3
    assert warn.details["available"] == 200 - warn.details["reserved"]
    assert critical.status is Status.CRITICAL, critical.summary
    assert "idle" in critical.details["by_state"]


async def test_wraparound_thresholds(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    ok = await check(ctx, "postgres.wraparound")
    assert ok.status is Status.OK
    age = ok.details["max_age"]
    assert age > 1
    warn = await check(
        with_settings(ctx, make_ops, maint_pg_wraparound_warn_age=1), "postgres.wraparound"
    )
    critical = await check(
        with_settings(
            ctx, make_ops, maint_pg_wraparound_warn_age=1, maint_pg_wraparound_critical_age=1
        ),
        "postgres.wraparound",
    )
    assert warn.status is Status.WARN, warn.summary
    assert critical.status is Status.CRITICAL, critical.summary
    assert "VACUUM (FREEZE" in critical.summary
    database = warn.details["databases"][0]
    assert database["percent_of_limit"] == pytest.approx(database["xid_age"] / 2**31 * 100, 0.01)


# --- size and bloat ------------------------------------------------------------------------


async def test_database_size_lists_largest_tables(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await admin(
        ctx,
        "CREATE TABLE archive AS SELECT g AS id, repeat('x', 200) AS body "
        "FROM generate_series(1, 5000) g",
        "CREATE INDEX archive_id ON archive (id)",
    )
    result = await check(ctx, "postgres.database_size")
    assert result.status is Status.OK
    assert result.details["database_bytes"] > 1_000_000
    top = result.details["largest"][0]
    assert top["table"] == "public.archive"
    assert top["total_bytes"] == top["table_bytes"] + top["index_bytes"]
    assert top["index_bytes"] > 0
    assert "public.archive" in result.summary


async def test_bloat_is_estimated_and_reported(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql", maint_pg_bloat_min_mb=0)
    await admin(
        ctx,
        "CREATE TABLE tidy (id int PRIMARY KEY, v int, note text) "
        "WITH (autovacuum_enabled = false)",
        "INSERT INTO tidy SELECT g, g, 'note ' || g FROM generate_series(1, 5000) g",
        "CREATE TABLE churn (id int PRIMARY KEY, v int, note text) "
        "WITH (autovacuum_enabled = false)",
        "INSERT INTO churn SELECT g, g, 'note ' || g FROM generate_series(1, 5000) g",
        "CREATE TABLE unanalyzed (id int)",
        "INSERT INTO unanalyzed SELECT generate_series(1, 100)",
        "ANALYZE tidy",
        "ANALYZE churn",
    )
    ok = await check(ctx, "postgres.bloat")
    assert ok.status is Status.OK, ok.summary
    estimates = {f["name"]: f for f in ok.details["largest_waste"]}
    assert ok.details["estimated"] >= 4
    assert all(f["wasted_ratio"] < 0.2 for f in estimates.values()), estimates
    assert "public.unanalyzed" in ok.details["without_stats"]
    assert "ANALYZE" in ok.details["without_stats_note"]

    await admin(
        ctx,
        *["UPDATE churn SET v = v + 1"] * 4,
        "ANALYZE churn",
    )
    result = await check(ctx, "postgres.bloat")
    assert result.status is Status.WARN, result.summary
    bloated = {f["name"]: f for f in result.details["bloated"]}
    assert "public.churn" in bloated
    assert "public.churn_pkey" in bloated
    assert bloated["public.churn"]["wasted_ratio"] > 0.6
    assert "public.tidy" not in bloated
    assert {t.setting for t in result.thresholds} == {
        "MAINT_PG_BLOAT_WARN_RATIO",
        "MAINT_PG_BLOAT_MIN_MB",
    }


# --- vacuum --------------------------------------------------------------------------------


async def test_vacuum_warns_on_dead_rows(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await admin(
        ctx,
        "CREATE TABLE events (id int PRIMARY KEY, kind text) WITH (autovacuum_enabled = false)",
        "INSERT INTO events SELECT g, 'k' FROM generate_series(1, 5000) g",
        "VACUUM ANALYZE events",
    )
    ok = await eventually(
        ctx, "postgres.vacuum", lambda r: r.status is Status.OK and r.details["tables"] >= 1
    )
    assert ok.status is Status.OK, ok.summary
    assert ok.details["autovacuum_disabled_tables"] == ["public.events"]

    await admin(ctx, "DELETE FROM events WHERE id > 500")
    result = await eventually(ctx, "postgres.vacuum", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    dead = result.details["dead_rows"][0]
    assert dead["table"] == "public.events"
    assert dead["dead_rows"] == 4500
    assert dead["dead_ratio"] == pytest.approx(0.9, abs=0.01)
    assert "VACUUM" in result.summary

    await admin(ctx, "VACUUM ANALYZE events")
    after = await eventually(ctx, "postgres.vacuum", status_is(Status.OK))
    assert after.status is Status.OK, after.summary


async def test_vacuum_warns_when_maintenance_is_overdue(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql", maint_pg_dead_tuple_min_rows=1_000_000)
    await admin(
        ctx,
        "CREATE TABLE ledger (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)",
        "INSERT INTO ledger SELECT g, 0 FROM generate_series(1, 2000) g",
        "VACUUM ANALYZE ledger",
        "UPDATE ledger SET v = 1 WHERE id <= 1000",
    )
    # Just changed and just vacuumed: nothing is overdue today...
    today = await eventually(ctx, "postgres.vacuum", lambda r: r.details["tables"] >= 1)
    assert today.status is Status.OK, today.summary
    # ...but eight days on, with the changes still waiting, both vacuum and analyze are.
    later = dataclasses.replace(ctx, clock=ManualClock(datetime.now(UTC) + timedelta(days=8)))
    result = await eventually(later, "postgres.vacuum", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    overdue = {(s["table"], s["action"]) for s in result.details["stale"]}
    assert overdue == {("public.ledger", "vacuum"), ("public.ledger", "analyze")}
    assert "public.ledger" in result.summary


# --- indexes -------------------------------------------------------------------------------


async def test_unused_index_on_a_larger_table(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql", maint_pg_large_table_rows=1000)
    await admin(
        ctx,
        "CREATE TABLE shops (id int PRIMARY KEY)",
        "INSERT INTO shops SELECT g FROM generate_series(0, 9) g",
        "CREATE TABLE orders (id int PRIMARY KEY, customer int, placed date, "
        "shop int REFERENCES shops (id))",
        "INSERT INTO orders SELECT g, g % 100, DATE '2025-01-01' + g % 300, g % 10 "
        "FROM generate_series(1, 3000) g",
        "CREATE INDEX orders_customer ON orders (customer)",
        "CREATE UNIQUE INDEX orders_customer_id ON orders (customer, id)",
        # Serves the foreign key's checks when a shop is deleted: never judged unused.
        "CREATE INDEX orders_shop ON orders (shop)",
        "ANALYZE orders",
    )
    result = await eventually(ctx, "postgres.unused_indexes", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    names = [u["index"] for u in result.details["unused"]]
    # Unique, primary-key and foreign-key indexes are exempt.
    assert names == ["public.orders_customer"]
    assert "CREATE INDEX orders_customer" in result.details["unused"][0]["definition"]
    assert result.details["unused"][0]["size_bytes"] > 0
    assert "DROP INDEX CONCURRENTLY public.orders_customer" in result.summary

    await admin(
        ctx,
        "SET enable_seqscan = off",
        "SET enable_bitmapscan = off",
        "SELECT count(*) FROM orders WHERE customer = 7",
    )
    used = await eventually(ctx, "postgres.unused_indexes", status_is(Status.OK))
    assert used.status is Status.OK, used.summary


async def test_duplicate_indexes(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await admin(
        ctx,
        "CREATE TABLE visits (a int, b int, c int)",
        # Neither of these is redundant: a unique index, and a partial one.
        "CREATE UNIQUE INDEX visits_c_unique ON visits (c)",
        "CREATE INDEX visits_c_partial ON visits (c, a) WHERE c > 0",
        "CREATE INDEX visits_c_b ON visits (c, b)",
    )
    ok = await check(ctx, "postgres.duplicate_indexes")
    assert ok.status is Status.OK, ok.details

    await admin(
        ctx, "CREATE INDEX visits_a ON visits (a)", "CREATE INDEX visits_a_b ON visits (a, b)"
    )
    result = await check(ctx, "postgres.duplicate_indexes")
    assert result.status is Status.WARN, result.summary
    assert [(d["redundant_index"], d["covering_index"]) for d in result.details["duplicates"]] == [
        ("public.visits_a", "public.visits_a_b")
    ]
    assert "public.visits_a is covered by public.visits_a_b" in result.summary


async def test_invalid_index_left_by_a_failed_concurrent_build(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await admin(ctx, "CREATE TABLE emails (address text)", "INSERT INTO emails VALUES ('a'), ('a')")
    assert (await check(ctx, "postgres.invalid_indexes")).status is Status.OK
    with pytest.raises(psycopg.errors.UniqueViolation):
        await admin(ctx, "CREATE UNIQUE INDEX CONCURRENTLY emails_address ON emails (address)")
    result = await check(ctx, "postgres.invalid_indexes")
    assert result.status is Status.CRITICAL, result.summary
    invalid = result.details["invalid"][0]
    assert invalid["index"] == "public.emails_address"
    assert invalid["fix"] == (
        "DROP INDEX CONCURRENTLY public.emails_address; then CREATE UNIQUE INDEX CONCURRENTLY "
        "emails_address ON public.emails USING btree (address);"
    )
    assert "DROP INDEX CONCURRENTLY public.emails_address" in result.summary


async def test_index_usage_warns_on_sequential_reads(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql", maint_pg_large_table_rows=1000)
    await admin(
        ctx,
        "CREATE TABLE readings (id int PRIMARY KEY, sensor int, value float8)",
        "INSERT INTO readings SELECT g, g % 10, random() FROM generate_series(1, 2000) g",
        "ANALYZE readings",
        *["SELECT value FROM readings WHERE id = 42"] * 30,
    )
    ok = await eventually(ctx, "postgres.index_usage", lambda r: len(r.details["judged"]) >= 1)
    assert ok.status is Status.OK, ok.summary

    await admin(ctx, *["SELECT avg(value) FROM readings WHERE sensor = 3"] * 30)
    result = await eventually(ctx, "postgres.index_usage", status_is(Status.WARN))
    assert result.status is Status.WARN, result.summary
    low = result.details["low"][0]
    assert low["table"] == "public.readings"
    assert low["index_ratio"] < 0.95
    assert low["seq_scan"] >= 30


# --- statements ----------------------------------------------------------------------------


async def test_slow_queries_skipped_when_installed_but_not_loaded(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    await admin(ctx, "CREATE EXTENSION pg_stat_statements")
    result = await check(ctx, "postgres.slow_queries")
    assert result.status is Status.SKIPPED
    assert "installed" in result.summary and "not loaded" in result.summary
    assert "shared_preload_libraries = 'pg_stat_statements'" in result.summary


@pytest.fixture(scope="module")
def statements_server() -> Iterator[PostgresServer]:
    server = PostgresServer(options=["shared_preload_libraries=pg_stat_statements"])
    try:
        server.start()
        server.build_template()
        yield server
    finally:
        server.stop()


async def test_slow_queries_with_pg_stat_statements(
    make_ops: OpsFactory, statements_server: PostgresServer
) -> None:
    ctx = make_ops("postgresql", db_url=statements_server.new_database())
    await admin(ctx, "CREATE EXTENSION pg_stat_statements", "SELECT pg_sleep(0.2)")
    ok = await check(ctx, "postgres.slow_queries")
    assert ok.status is Status.OK, ok.summary
    assert any("pg_sleep" in s["query"] for s in ok.details["top_by_mean"])

    slow_ctx = with_settings(ctx, make_ops, maint_pg_slow_query_warn_ms=100)
    result = await check(slow_ctx, "postgres.slow_queries")
    assert result.status is Status.WARN, result.summary
    slowest = result.details["top_by_mean"][0]
    assert "pg_sleep" in slowest["query"]
    assert slowest["calls"] == 1
    assert slowest["mean_ms"] >= 200
    assert slowest["total_ms"] >= 200
    assert "pg_sleep" in result.summary


# --- permissions ---------------------------------------------------------------------------


@pytest.fixture
async def unprivileged(make_ops: OpsFactory) -> AsyncIterator[tuple[OpsContext, OpsContext]]:
    """(superuser context, context of a fresh LOGIN role without any grant) on one database."""
    ctx = make_ops("postgresql", maint_pg_long_query_warn_seconds=0.2)
    role = f"probe_{uuid.uuid4().hex[:10]}"
    await admin(ctx, f"CREATE ROLE {role} LOGIN")
    url = make_url(ctx.settings.database_url).set(username=role)
    limited = make_ops(
        "postgresql",
        db_url=url.render_as_string(hide_password=False),
        maint_pg_long_query_warn_seconds=0.2,
    )
    try:
        yield ctx, limited
    finally:
        await limited.engine.dispose()
        await admin(ctx, f"DROP ROLE {role}")


async def test_unprivileged_role_sees_limited_activity(
    unprivileged: tuple[OpsContext, OpsContext],
) -> None:
    ctx, limited = unprivileged
    async with connect(ctx) as sleeper, connect(ctx) as controller:
        pid = sleeper.info.backend_pid
        sleeping = asyncio.create_task(sleeper.execute("SELECT pg_sleep(30)"))
        try:
            seen = await eventually(ctx, "postgres.long_queries", status_is(Status.WARN))
            assert seen.status is Status.WARN, seen.summary
            result = await check(limited, "postgres.long_queries")
            # The role cannot see the superuser's query: it says so instead of "nothing runs".
            assert result.details["visibility"] == "limited"
            assert result.details["hidden_sessions"] >= 1
            assert "visibility limited" in result.summary
            assert "pg_monitor" in result.summary
            connections = await check(limited, "postgres.connections")
            assert connections.status is Status.OK
            assert connections.details["by_state"]["not visible"] >= 2
            assert connections.details["visibility"] == "limited"
        finally:
            await controller.execute("SELECT pg_cancel_backend(%s)", [pid])
            with pytest.raises(psycopg.errors.QueryCanceled):
                await sleeping


async def test_permission_denied_is_skipped(unprivileged: tuple[OpsContext, OpsContext]) -> None:
    ctx, limited = unprivileged
    # A hardened database: the statistics view is not readable by every role.
    await admin(ctx, "REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC")
    result = await check(limited, "postgres.long_queries")
    assert result.status is Status.SKIPPED
    assert "permission denied" in result.summary
    assert "pg_stat_activity" in result.summary
    assert (await check(ctx, "postgres.long_queries")).status is Status.OK
