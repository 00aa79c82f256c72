"""The SQLite checks on real database files: corruption, WAL growth, free pages, statistics."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, text

from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.ops.checks.sqlite import read_only
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, Status
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_check
from cv_evaluator.storage.engine import sqlite_path
from cv_evaluator.storage.rows import upload_to_row
from cv_evaluator.storage.tables import maintenance_runs, uploads
from tests.integration.ops.conftest import OpsFactory
from tests.support.builders import make_upload


async def check(ctx: OpsContext, name: str) -> CheckResult:
    (spec,) = select_checks([name])
    return await run_check(ctx, spec)


def elsewhere(ctx: OpsContext, path: Path) -> OpsContext:
    """``ctx`` judging the SQLite file at ``path``, left exactly as it is (make_ops migrates)."""
    settings = ctx.settings.model_copy(update={"db_url": f"sqlite:///{path.as_posix()}"})
    return replace(ctx, settings=settings)


def database(ctx: OpsContext) -> Path:
    path = sqlite_path(ctx.settings.database_url)
    assert path is not None
    return path


async def add_uploads(ctx: OpsContext, count: int, text_size: int = 4000) -> list[str]:
    rows = [upload_to_row(make_upload(DocumentKind.CV, text="x" * text_size)) for _ in range(count)]
    async with ctx.engine.begin() as connection:
        await connection.execute(insert(uploads), rows)
    return [row["id"] for row in rows]


async def add_runs(ctx: OpsContext, count: int, tasks: list[dict[str, Any]] | None = None) -> None:
    now = ctx.clock.now()
    rows = [
        {
            "id": new_id(IdKind.JOB),
            "kind": "run",
            "schedule": "weekly",
            "actor": "test",
            "host": "test-host",
            "dry_run": False,
            "status": "ok",
            "started_at": now,
            "finished_at": now,
            "duration_seconds": 1.0,
            "tasks": tasks or [],
            "checks": [],
            "issues": [],
            "before": {},
            "after": {},
        }
        for _ in range(count)
    ]
    async with ctx.engine.begin() as connection:
        await connection.execute(insert(maintenance_runs), rows)


async def run_analyze(ctx: OpsContext) -> None:
    async with ctx.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


def corrupt_copy(source: Path, target: Path) -> None:
    """A consistent copy of ``source`` with garbage written over pages in its middle."""
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
        page_size = int(copy.execute("PRAGMA page_size").fetchone()[0])
        pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        # The uploads table's root page and the pages after it: certainly live b-tree pages,
        # wherever the schema's other tables and indexes put them.
        root = int(
            copy.execute("SELECT rootpage FROM sqlite_master WHERE name = 'uploads'").fetchone()[0]
        )
        copy.execute("PRAGMA journal_mode=DELETE")
    original.close()
    copy.close()
    assert pages > 20
    noise = random.Random(7)
    with target.open("r+b") as file:
        for page in range(root, min(root + 5, pages + 1)):
            # Page numbers start at 1; page 1 also holds the 100-byte file header.
            file.seek((page - 1) * page_size + 16)
            file.write(bytes(noise.randrange(256) for _ in range(page_size - 32)))


# --- integrity ------------------------------------------------------------------------------


async def test_integrity_ok_on_a_healthy_file(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    await add_uploads(ctx, 5)
    for name, pragma in (
        ("sqlite.integrity", "quick_check"),
        ("sqlite.integrity_full", "integrity_check"),
    ):
        result = await check(ctx, name)
        assert result.status is Status.OK, result.summary
        assert result.summary.startswith(f"{pragma}: ok")
        assert result.details["problems"] == []


async def test_integrity_critical_on_a_corrupted_copy(make_ops: OpsFactory, tmp_path: Path) -> None:
    ctx = make_ops("sqlite")
    await add_uploads(ctx, 100)
    broken = tmp_path / "broken" / "app.db"
    broken.parent.mkdir()
    await asyncio.to_thread(corrupt_copy, database(ctx), broken)
    before = broken.read_bytes()
    corrupted = elsewhere(ctx, broken)
    for name in ("sqlite.integrity", "sqlite.integrity_full"):
        result = await check(corrupted, name)
        assert result.status is Status.CRITICAL, result.summary
        assert f"{broken} is corrupt: " in result.summary
        assert result.details["problems"]
        assert "restore the latest verified backup" in result.summary
    assert broken.read_bytes() == before  # read-only: the check changed nothing


async def test_integrity_critical_when_the_file_is_gone(
    make_ops: OpsFactory, tmp_path: Path
) -> None:
    ctx = elsewhere(make_ops("sqlite"), tmp_path / "gone" / "app.db")
    result = await check(ctx, "sqlite.integrity")
    assert result.status is Status.CRITICAL
    assert "does not exist" in result.summary
    assert not (tmp_path / "gone" / "app.db").exists()


# --- files ----------------------------------------------------------------------------------


async def test_files_reports_sizes_and_warns_on_a_large_wal(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    result = await check(ctx, "sqlite.files")
    assert result.status is Status.OK, result.summary
    assert result.details["file_bytes"] > 0
    assert result.details["database_bytes"] == (
        result.details["file_bytes"] + result.details["wal_bytes"]
    )
    assert result.thresholds[0].setting == "MAINT_SQLITE_WAL_WARN_MB"
    # The engine stays open, so the log is not checkpointed away: it holds the new rows.
    await add_uploads(ctx, 50)
    wal = database(ctx).with_name("app.db-wal")
    assert wal.stat().st_size > 100_000
    small = make_ops("sqlite", db_url=ctx.settings.database_url, maint_sqlite_wal_warn_mb=0.05)
    result = await check(small, "sqlite.files")
    assert result.status is Status.WARN, result.summary
    assert result.summary.startswith("write-ahead log ")
    assert result.details["wal_bytes"] == wal.stat().st_size


async def test_files_critical_when_the_file_is_missing(
    make_ops: OpsFactory, tmp_path: Path
) -> None:
    ctx = elsewhere(make_ops("sqlite"), tmp_path / "none" / "app.db")
    result = await check(ctx, "sqlite.files")
    assert result.status is Status.CRITICAL
    assert result.details["exists"] is False


# --- free pages -----------------------------------------------------------------------------


async def test_freelist_warns_after_many_rows_are_deleted(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    ids = await add_uploads(ctx, 200)
    result = await check(ctx, "sqlite.freelist")
    assert result.status is Status.OK, result.summary
    assert result.details["freelist_count"] < result.details["page_count"] * 0.25
    async with ctx.engine.begin() as connection:
        await connection.execute(delete(uploads).where(uploads.c.id.in_(ids[:180])))
    result = await check(ctx, "sqlite.freelist")
    assert result.status is Status.WARN, result.summary
    assert result.details["free_ratio"] > 0.25
    assert result.details["reclaimable_bytes"] == (
        result.details["freelist_count"] * result.details["page_size"]
    )
    assert "vacuum_analyze" in result.summary


# --- statistics -----------------------------------------------------------------------------


async def test_analyze_never_run_warns_then_ok_after_analyze(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    await add_uploads(ctx, 5)
    result = await check(ctx, "sqlite.analyze")
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("no statistics yet, not needed while every table has")
    await add_runs(ctx, 1001)
    result = await check(ctx, "sqlite.analyze")
    assert result.status is Status.WARN
    assert result.summary.startswith("statistics never gathered (no sqlite_stat1)")
    await run_analyze(ctx)
    result = await check(ctx, "sqlite.analyze")
    assert result.status is Status.OK, result.summary
    assert result.summary.endswith("no analyze task on record")
    tables = {t["table"]: t for t in result.details["tables"]}
    assert tables["uploads"] == {"table": "uploads", "analysed_rows": 5, "rows": 5, "stale": False}
    assert result.thresholds[0].setting == "MAINT_SQLITE_ANALYZE_WARN_DAYS"


async def test_analyze_stale_when_a_table_grew_tenfold(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    await add_runs(ctx, 10)
    await run_analyze(ctx)
    await add_runs(ctx, 1500)
    result = await check(ctx, "sqlite.analyze")
    assert result.status is Status.WARN, result.summary
    assert "stale statistics for maintenance_runs (analysed at 10 rows, now 1510)" in result.summary
    await run_analyze(ctx)
    assert (await check(ctx, "sqlite.analyze")).status is Status.OK


async def test_analyze_judges_the_last_analyze_task_in_the_log(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite", maint_sqlite_analyze_warn_days=30)
    now = ctx.clock.now()

    def task(name: str, at: datetime, status: str = "ok") -> dict[str, Any]:
        return {"task": name, "status": status, "started_at": at.isoformat()}

    await add_runs(ctx, 1, [task("analyze", now - timedelta(days=40))])
    await add_runs(ctx, 1, [task("analyze", now - timedelta(days=1), status="failed")])
    await run_analyze(ctx)
    result = await check(ctx, "sqlite.analyze")
    assert result.status is Status.WARN, result.summary
    assert result.summary.startswith("the last analyze task ran 40 days ago")
    await add_runs(ctx, 1, [task("vacuum_analyze", now - timedelta(days=2))])
    result = await check(ctx, "sqlite.analyze")
    assert result.status is Status.OK, result.summary
    assert result.summary.endswith("last analyze task 2.0 days ago")
    assert result.details["last_analyze_task_age_days"] == 2.0


async def test_sqlite_checks_do_not_apply_to_postgresql(make_ops: OpsFactory) -> None:
    ctx = make_ops("postgresql")
    for name in ("sqlite.integrity", "sqlite.files", "sqlite.freelist", "sqlite.analyze"):
        result = await check(ctx, name)
        assert result.status is Status.SKIPPED
        assert result.summary == "does not apply: the database is PostgreSQL, not SQLite"


async def test_a_read_cut_short_by_its_time_limit_stops_its_query(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    ended = threading.Event()
    errors: list[str] = []

    def endless(connection: sqlite3.Connection) -> None:
        try:
            connection.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                "SELECT count(*) FROM c"
            ).fetchone()
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))
            raise
        finally:
            ended.set()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await read_only(database(ctx), endless)
    assert await asyncio.to_thread(ended.wait, 5)
    assert errors == ["interrupted"]
