"""Database upkeep: refresh planner statistics (weekly) and reclaim space (monthly).

Both tasks touch only the service's own tables, one table per statement, so a table whose lock
cannot be had costs that table, not the run. On PostgreSQL every statement runs under
``lock_timeout`` and ``statement_timeout`` (``MAINT_PG_LOCK_TIMEOUT_SECONDS``,
``MAINT_PG_STATEMENT_TIMEOUT_SECONDS``): ``ANALYZE`` and ``VACUUM`` need a SHARE UPDATE EXCLUSIVE
lock, which a migration or another vacuum may hold for long; the task gives up on that table and
says so rather than wait without end. Those locks do not conflict with the service's reads and
writes, so the service keeps working while a table is analysed or vacuumed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskOutcome, TaskStatus
from cv_evaluator.ops.registry import task
from cv_evaluator.storage.engine import sqlite_path
from cv_evaluator.storage.tables import callbacks, jobs, maintenance_runs, results, uploads

# The service's tables, parents first; Alembic's bookkeeping table is not worth the time.
SERVICE_TABLES: tuple[str, ...] = tuple(
    t.name for t in (uploads, jobs, results, callbacks, maintenance_runs)
)
# SQLite: rows sampled per index by ANALYZE. Bounds the time the write lock is held whatever the
# table size; SQLite recommends a limit of a few hundred for planner statistics.
SQLITE_ANALYSIS_LIMIT = 1000
# VACUUM on SQLite writes a full copy of the database (temporary file, then the WAL).
SQLITE_VACUUM_SPACE_FACTOR = 2.0
# PostgreSQL errors that mean "this table's turn is lost, the others may go on".
_GIVE_UP_SQLSTATES = {"55P03": "lock not obtained", "57014": "statement time-out"}


def pg_timeout_statements(ctx: OpsContext) -> list[str]:
    lock_ms = round(ctx.settings.maint_pg_lock_timeout_seconds * 1000)
    statement_ms = round(ctx.settings.maint_pg_statement_timeout_seconds * 1000)
    return [f"SET lock_timeout = '{lock_ms}ms'", f"SET statement_timeout = '{statement_ms}ms'"]


@asynccontextmanager
async def maintenance_connection(
    ctx: OpsContext, actions: list[str]
) -> AsyncIterator[AsyncConnection]:
    """An autocommit connection (VACUUM refuses transaction blocks) with the time limits set.

    The limits are session settings, so they are reset before the connection goes back to the
    pool; a connection that cannot be reset is thrown away instead of being reused with them.
    """
    async with ctx.engine.connect() as plain:
        connection = await plain.execution_options(isolation_level="AUTOCOMMIT")
        if not ctx.is_postgresql:
            yield connection
            return
        for statement in pg_timeout_statements(ctx):
            await connection.exec_driver_sql(statement)
            actions.append(statement)
        try:
            yield connection
        finally:
            try:
                await connection.exec_driver_sql("RESET lock_timeout")
                await connection.exec_driver_sql("RESET statement_timeout")
            except BaseException:
                await connection.invalidate()
                raise


def give_up_reason(exc: OperationalError, ctx: OpsContext) -> str | None:
    """Why one table's statement was abandoned, or None for an error that should stop the task."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == "55P03":
        limit = ctx.settings.maint_pg_lock_timeout_seconds
        return f"lock not obtained within {limit:g} s (MAINT_PG_LOCK_TIMEOUT_SECONDS)"
    if sqlstate == "57014":
        limit = ctx.settings.maint_pg_statement_timeout_seconds
        return f"statement time-out after {limit:g} s (MAINT_PG_STATEMENT_TIMEOUT_SECONDS)"
    if ctx.is_sqlite and "locked" in str(exc.orig):
        return f"database locked (waited DB_BUSY_TIMEOUT_MS={ctx.settings.db_busy_timeout_ms})"
    return None


def join_sql(*parts: str) -> str:
    """Join fixed SQL fragments: no value is ever interpolated, values are bound parameters."""
    joined = " ".join(part for part in parts if part)
    return joined.replace("( ", "(").replace(" )", ")")


def quote(ctx: OpsContext, name: str) -> str:
    return ctx.engine.dialect.identifier_preparer.quote(name)


@dataclass
class _TableRun:
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


async def _per_table(
    ctx: OpsContext,
    connection: AsyncConnection,
    statements: dict[str, str],
    actions: list[str],
) -> _TableRun:
    run = _TableRun()
    for table, statement in statements.items():
        started = time.perf_counter()
        try:
            await connection.exec_driver_sql(statement)
        except OperationalError as exc:
            reason = give_up_reason(exc, ctx)
            if reason is None:
                raise
            run.failures[table] = reason
            actions.append(f"{statement}  -- failed: {reason}")
            continue
        run.seconds[table] = round(time.perf_counter() - started, 3)
        actions.append(statement)
    return run


def _failure_text(failures: dict[str, str]) -> str:
    return "; ".join(f"{table}: {reason}" for table, reason in failures.items())


# --------------------------------------------------------------------------------------- analyze


def analyze_statements(ctx: OpsContext) -> dict[str, str]:
    return {table: f"ANALYZE {quote(ctx, table)}" for table in SERVICE_TABLES}


@task(
    "analyze",
    description="Refresh the query planner's statistics of the service's tables (ANALYZE).",
)
async def analyze(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    statements = analyze_statements(ctx)
    sqlite_before = [f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}"] if ctx.is_sqlite else []
    sqlite_after = ["PRAGMA analysis_limit = 0", "PRAGMA optimize"] if ctx.is_sqlite else []
    if dry_run:
        timeouts = pg_timeout_statements(ctx) if ctx.is_postgresql else []
        planned = [*timeouts, *sqlite_before, *statements.values(), *sqlite_after]
        return TaskOutcome(
            TaskStatus.PLANNED,
            f"would analyse {len(statements)} tables: {', '.join(statements)}",
            {"tables": list(statements)},
            planned,
        )
    actions: list[str] = []
    started = time.perf_counter()
    async with maintenance_connection(ctx, actions) as connection:
        for statement in sqlite_before:
            await connection.exec_driver_sql(statement)
            actions.append(statement)
        run = await _per_table(ctx, connection, statements, actions)
        for statement in sqlite_after:
            await connection.exec_driver_sql(statement)
            actions.append(statement)
    total = round(time.perf_counter() - started, 3)
    figures: dict[str, Any] = {
        "tables_analyzed": len(run.seconds),
        "tables_failed": len(run.failures),
        "seconds_per_table": run.seconds,
        "failures": run.failures,
        "seconds": total,
    }
    if run.failures:
        return TaskOutcome(
            TaskStatus.FAILED,
            f"analysed {len(run.seconds)} of {len(statements)} tables in {total:.2f} s; "
            f"not analysed: {_failure_text(run.failures)}",
            figures,
            actions,
        )
    slowest = max(run.seconds, key=lambda t: run.seconds[t])
    return TaskOutcome(
        TaskStatus.OK,
        f"analysed {len(run.seconds)} tables in {total:.2f} s "
        f"(slowest {slowest}: {run.seconds[slowest]:.2f} s)",
        figures,
        actions,
    )


# -------------------------------------------------------------------------------- vacuum_analyze


_PG_TABLE_STATS = text(
    "SELECT relname, n_dead_tup, n_live_tup, pg_total_relation_size(relid) AS total_bytes "
    "FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname IN :names"
).bindparams(bindparam("names", value=list(SERVICE_TABLES), expanding=True))


async def _pg_table_stats(connection: AsyncConnection) -> dict[str, dict[str, int]]:
    rows = (await connection.execute(_PG_TABLE_STATS)).all()
    return {
        row.relname: {
            "dead_tuples": int(row.n_dead_tup),
            "live_tuples": int(row.n_live_tup),
            "bytes": int(row.total_bytes),
        }
        for row in rows
    }


def vacuum_statements(ctx: OpsContext) -> dict[str, str]:
    return {table: f"VACUUM (ANALYZE) {quote(ctx, table)}" for table in SERVICE_TABLES}


@task(
    "vacuum_analyze",
    description=(
        "Reclaim dead rows and refresh statistics: VACUUM (ANALYZE) per table on PostgreSQL; "
        "on SQLite a WAL checkpoint, and VACUUM only when enough of the file is free pages."
    ),
)
async def vacuum_analyze(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    if ctx.is_sqlite:
        return await _sqlite_vacuum(ctx, dry_run)
    return await _pg_vacuum(ctx, dry_run)


async def _pg_vacuum(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    statements = vacuum_statements(ctx)
    actions: list[str] = []
    if dry_run:
        async with ctx.engine.connect() as connection:
            before = await _pg_table_stats(connection)
        dead = sum(s["dead_tuples"] for s in before.values())
        return TaskOutcome(
            TaskStatus.PLANNED,
            f"would vacuum and analyse {len(statements)} tables ({dead} dead rows now)",
            {"tables": {t: {"before": s} for t, s in before.items()}},
            [*pg_timeout_statements(ctx), *statements.values()],
        )
    started = time.perf_counter()
    async with maintenance_connection(ctx, actions) as connection:
        before = await _pg_table_stats(connection)
        run = await _per_table(ctx, connection, statements, actions)
        after = await _pg_table_stats(connection)
    total = round(time.perf_counter() - started, 3)
    tables = {
        table: {
            "before": before.get(table),
            "after": after.get(table),
            "seconds": run.seconds.get(table),
            "failed": run.failures.get(table),
        }
        for table in statements
    }
    dead_before = sum(s["dead_tuples"] for s in before.values())
    dead_after = sum(s["dead_tuples"] for s in after.values())
    bytes_before = sum(s["bytes"] for s in before.values())
    bytes_after = sum(s["bytes"] for s in after.values())
    figures: dict[str, Any] = {
        "tables_vacuumed": len(run.seconds),
        "tables_failed": len(run.failures),
        "dead_tuples_before": dead_before,
        "dead_tuples_after": dead_after,
        "bytes_before": bytes_before,
        "bytes_after": bytes_after,
        "seconds": total,
        "tables": tables,
    }
    done = (
        f"vacuumed and analysed {len(run.seconds)} of {len(statements)} tables in {total:.2f} s: "
        f"dead rows {dead_before} → {dead_after}, size {human_bytes(bytes_before)} → "
        f"{human_bytes(bytes_after)}"
    )
    if run.failures:
        return TaskOutcome(
            TaskStatus.FAILED, f"{done}; not done: {_failure_text(run.failures)}", figures, actions
        )
    return TaskOutcome(TaskStatus.OK, done, figures, actions)


@dataclass(frozen=True, slots=True)
class SqliteFile:
    page_size: int
    page_count: int
    freelist_count: int
    file_bytes: int
    wal_bytes: int

    @property
    def free_ratio(self) -> float:
        return self.freelist_count / self.page_count if self.page_count else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "page_size": self.page_size,
            "page_count": self.page_count,
            "freelist_count": self.freelist_count,
            "free_ratio": round(self.free_ratio, 4),
            "file_bytes": self.file_bytes,
            "wal_bytes": self.wal_bytes,
        }


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def _sqlite_file(connection: AsyncConnection, path: Path) -> SqliteFile:
    async def pragma(name: str) -> int:
        return int((await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one())

    return SqliteFile(
        page_size=await pragma("page_size"),
        page_count=await pragma("page_count"),
        freelist_count=await pragma("freelist_count"),
        file_bytes=_file_size(path),
        wal_bytes=_file_size(path.with_name(path.name + "-wal")),
    )


@dataclass(frozen=True, slots=True)
class VacuumDecision:
    run: bool
    reason: str | None = None  # why it is not run
    lacks_space: bool = False  # it should run but cannot: the task then fails


def vacuum_decision(state: SqliteFile, warn_ratio: float, free_disk_bytes: int) -> VacuumDecision:
    """Whether VACUUM is worth its write lock now, and why not when it is not run."""
    if state.free_ratio <= warn_ratio:
        return VacuumDecision(
            False,
            f"VACUUM skipped: only {state.free_ratio:.0%} reclaimable "
            f"(runs above {warn_ratio:.0%}, MAINT_SQLITE_FREELIST_WARN_RATIO)",
        )
    needed = int(state.file_bytes * SQLITE_VACUUM_SPACE_FACTOR)
    if free_disk_bytes < needed:
        return VacuumDecision(
            False,
            f"VACUUM not run: it needs about {human_bytes(needed)} free next to the database, "
            f"only {human_bytes(free_disk_bytes)} free",
            lacks_space=True,
        )
    return VacuumDecision(True)


async def _sqlite_vacuum(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    path = sqlite_path(ctx.settings.database_url)
    if path is None:
        return TaskOutcome(TaskStatus.SKIPPED, "the SQLite database is not a file")
    warn_ratio = ctx.settings.maint_sqlite_freelist_warn_ratio
    actions: list[str] = []
    async with maintenance_connection(ctx, actions) as connection:
        before = await _sqlite_file(connection, path)
        free_disk = shutil.disk_usage(path.parent).free
        decision = vacuum_decision(before, warn_ratio, free_disk)
        run_vacuum, skip_reason = decision.run, decision.reason
        planned = [*(["VACUUM"] if run_vacuum else []), "PRAGMA optimize"]
        planned.append("PRAGMA wal_checkpoint(TRUNCATE)")
        if dry_run:
            what = "would run VACUUM, " if run_vacuum else f"{skip_reason}; would run "
            return TaskOutcome(
                TaskStatus.PLANNED,
                f"{what}PRAGMA optimize and a WAL checkpoint "
                f"(WAL {human_bytes(before.wal_bytes)}, file {human_bytes(before.file_bytes)})",
                {"before": before.as_dict(), "vacuum": run_vacuum, "vacuum_skipped": skip_reason},
                planned,
            )
        lock_seconds = None
        if run_vacuum:
            started = time.perf_counter()
            await connection.exec_driver_sql("VACUUM")
            lock_seconds = round(time.perf_counter() - started, 3)
            actions.append(f"VACUUM  -- write lock held {lock_seconds:.3f} s")
        await connection.exec_driver_sql("PRAGMA optimize")
        actions.append("PRAGMA optimize")
        checkpoint_row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        busy, wal_frames, checkpointed = (int(v) for v in checkpoint_row)
        actions.append(
            f"PRAGMA wal_checkpoint(TRUNCATE)  -- busy={busy}, wal frames={wal_frames}, "
            f"checkpointed={checkpointed}"
        )
        after = await _sqlite_file(connection, path)
    figures: dict[str, Any] = {
        "before": before.as_dict(),
        "after": after.as_dict(),
        "vacuum": run_vacuum,
        "vacuum_skipped": skip_reason,
        "lock_held_seconds": lock_seconds,
        "file_bytes_before": before.file_bytes,
        "file_bytes_after": after.file_bytes,
        "wal_bytes_before": before.wal_bytes,
        "wal_bytes_after": after.wal_bytes,
        "checkpoint_complete": busy == 0,
    }
    parts = []
    if run_vacuum:
        parts.append(
            f"VACUUM: file {human_bytes(before.file_bytes)} → {human_bytes(after.file_bytes)}, "
            f"write lock held {lock_seconds:.2f} s"
        )
    else:
        parts.append(str(skip_reason))
    checkpoint = f"WAL {human_bytes(before.wal_bytes)} → {human_bytes(after.wal_bytes)}"
    if busy:
        # Readers still using old WAL frames keep the checkpoint from finishing; not an error of
        # ours, but the WAL keeps its size until they are gone.
        checkpoint += " (checkpoint incomplete: readers were active)"
    parts.append(checkpoint)
    status = TaskStatus.FAILED if decision.lacks_space else TaskStatus.OK
    return TaskOutcome(status, "; ".join(parts), figures, actions)


def human_bytes(value: float) -> str:
    """1536 → '1.5 KiB': sizes in summaries, for people; figures keep exact bytes."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
