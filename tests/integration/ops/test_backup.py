"""Backups against the real engines: create, verify (restore drills), restore, prune, the check."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cv_evaluator.cli import main
from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.errors import Conflict, Forbidden
from cv_evaluator.ops.backup import (
    backup_age,
    create_backup,
    prune_backups,
    restore_backup,
    verify_backup,
)
from cv_evaluator.ops.backup_digest import digests
from cv_evaluator.ops.backup_store import FILES_DIR, list_backups, sha256_file, stored_files
from cv_evaluator.ops.backup_tools import BackupFailed
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import Status, TaskStatus
from cv_evaluator.ops.registry import all_checks, get_task
from cv_evaluator.ops.runner import run_check
from cv_evaluator.ops.runs import run_task
from cv_evaluator.service.maintenance import MaintenanceService
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.maintenance import SqlMaintenanceStore
from cv_evaluator.storage.migrate import upgrade
from tests.integration.ops.conftest import OpsFactory
from tests.support.backends import Databases
from tests.support.seeding import Seeded, SeedPlan, seed_jobs

BACKENDS = ["sqlite", "postgresql"]


def _uploads(ctx: OpsContext) -> Path:
    return ctx.settings.data_dir / "uploads"


async def _seed(ctx: OpsContext, *, jobs: int = 30, seed: int = 1) -> Seeded:
    # Every second upload has its original on disk (as in a store whose files were archived).
    plan = SeedPlan(jobs=jobs, oldest=timedelta(days=3), callbacks=0.5, files=jobs, seed=seed)
    return await seed_jobs(ctx.engine, plan, blob_root=_uploads(ctx))


async def _live_tables(ctx: OpsContext) -> dict[str, dict[str, Any]]:
    async with ctx.engine.connect() as connection:
        return {name: d.as_dict() for name, d in (await digests(connection)).items()}


def _files(root: Path) -> dict[str, str]:
    return {relative: sha256_file(root / relative) for relative in stored_files(root)}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_create_list_and_verify(make_ops: OpsFactory, backend: str) -> None:
    ctx = make_ops(backend)
    seeded = await _seed(ctx)
    planned = await run_task(ctx, get_task("backup"), dry_run=True)
    assert planned.status is TaskStatus.PLANNED and not ctx.settings.backup_dir.exists()
    assert f"and {len(seeded.files)} files" in planned.summary
    if backend == "postgresql":
        assert any(" --snapshot=SNAPSHOT " in action for action in planned.actions)
    backup = await create_backup(ctx)

    manifest = backup.manifest
    assert backup.path == ctx.settings.backup_dir / backup.id and backup.id.startswith("bkp_")
    assert manifest["backend"] == backend and manifest["schema_revision"]
    rows = {name: t["rows"] for name, t in manifest["tables"].items()}
    assert rows["jobs"] == seeded.jobs and rows["uploads"] == seeded.uploads
    assert rows["results"] == seeded.results and rows["callbacks"] == seeded.callbacks
    assert manifest["tables"] == await _live_tables(ctx)  # nothing wrote since
    assert manifest["files"]["count"] == len(seeded.files) > 0
    assert {e["path"] for e in manifest["files"]["entries"]} == set(stored_files(_uploads(ctx)))
    assert manifest["files"]["linked"] == len(seeded.files)  # same filesystem
    assert manifest["database"]["sha256"] == sha256_file(backup.database_file)
    assert manifest["tools"]["cv_evaluator"] and manifest["tools"]["sqlite"]
    if backend == "postgresql":
        assert manifest["snapshot"] and manifest["tools"]["pg_dump"].startswith("pg_dump")
    assert manifest["verified"] is None
    assert [b.id for b in list_backups(ctx.settings.backup_dir).backups] == [backup.id]
    assert not list(ctx.settings.backup_dir.glob(".tmp-*"))

    verification = await verify_backup(ctx, backup.id)
    assert verification.ok, verification.problems
    assert verification.rto_seconds is not None and verification.rto_seconds > 0
    assert verification.checks["tables"]["jobs"] == seeded.jobs
    # Half the seeded uploads have no original on disk: reported, not a failure.
    assert any("have no stored original" in w for w in verification.warnings)
    recorded = list_backups(ctx.settings.backup_dir).backups[0]
    assert recorded.verified_ok and recorded.verified is not None
    assert recorded.verified["rto_seconds"] == verification.rto_seconds
    if backend == "postgresql":
        assert verification.checks["amcheck"] == "ok"  # the test server's user is a superuser
        async with ctx.engine.connect() as connection:
            left = await connection.execute(
                text("SELECT count(*) FROM pg_database WHERE datname LIKE 'cv_verify_%'")
            )
            assert left.scalar_one() == 0  # the scratch database was dropped
    else:
        assert verification.checks["integrity_check"] == "ok"
        assert not list(ctx.settings.backup_dir.glob(".verify-*"))


async def test_a_postgresql_backup_is_one_snapshot_while_the_service_writes(
    make_ops: OpsFactory,
) -> None:
    """The manifest's figures and the dump come from one snapshot, whatever is written meanwhile.

    Without the exported snapshot pg_dump would start later than the checksums and dump more
    jobs than the manifest counts: verify would fail with a row count mismatch in jobs.
    """
    ctx = make_ops("postgresql")
    await _seed(ctx, jobs=300)
    stop = asyncio.Event()
    written = 0

    async def service() -> None:
        nonlocal written
        while not stop.is_set():
            plan = SeedPlan(jobs=1, oldest=timedelta(0), seed=1000 + written)
            await seed_jobs(ctx.engine, plan)
            written += 1

    writer = asyncio.create_task(service())
    try:
        deadline = time.monotonic() + 10
        while written < 3:
            assert time.monotonic() < deadline, "the writer made no progress"
            await asyncio.sleep(0.01)
        before = written
        backup = await create_backup(ctx)
        during = written - before
    finally:
        stop.set()
        await writer
    assert during > 0
    assert backup.manifest["tables"]["jobs"]["rows"] < (await _live_tables(ctx))["jobs"]["rows"]
    verification = await verify_backup(ctx, backup.id)
    assert verification.ok, verification.problems


@pytest.mark.parametrize("backend", BACKENDS)
async def test_verify_names_the_table_whose_restored_rows_differ(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend)
    await _seed(ctx)
    backup = await create_backup(ctx)

    async def corrupt(scratch: AsyncEngine) -> None:
        async with scratch.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE results SET project_score = project_score + 0.5 "
                    "WHERE job_id = (SELECT min(job_id) FROM results)"
                )
            )

    verification = await verify_backup(ctx, backup.id, before_compare=corrupt)
    assert not verification.ok
    assert verification.problems == [
        f"checksum mismatch in table results ({_results(backup)} rows)"
    ]
    recorded = list_backups(ctx.settings.backup_dir).backups[0].verified
    assert recorded is not None and recorded["ok"] is False
    assert recorded["problems"] == verification.problems


def _results(backup: Any) -> int:
    return int(backup.manifest["tables"]["results"]["rows"])


async def test_verify_reports_jobs_whose_uploads_are_missing(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite")
    await _seed(ctx, jobs=6)
    backup = await create_backup(ctx)

    async def orphan(scratch: AsyncEngine) -> None:
        # SQLite enforces foreign keys per connection only: a file can hold orphans.
        async with scratch.connect() as connection:
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.exec_driver_sql(
                "DELETE FROM uploads WHERE id = (SELECT min(cv_id) FROM jobs)"
            )
            await connection.commit()

    verification = await verify_backup(ctx, backup.id, before_compare=orphan)
    assert not verification.ok
    assert "1 jobs rows without their uploads row (jobs.cv_id → uploads.id)" in (
        verification.problems
    )
    assert any("mismatch in table uploads" in p for p in verification.problems)


async def test_verify_names_a_tampered_file_and_restore_refuses_the_backup(
    make_ops: OpsFactory,
) -> None:
    ctx = make_ops("sqlite")
    await _seed(ctx, jobs=6)
    backup = await create_backup(ctx)
    victim = backup.manifest["files"]["entries"][0]["path"]
    tampered = backup.path / FILES_DIR / victim
    # Replaced, not rewritten in place: the backup's copy is a hard link of the live file.
    tampered.unlink()
    tampered.write_bytes(b"not what was backed up")

    verification = await verify_backup(ctx, backup.id)
    assert not verification.ok
    assert verification.problems == [
        f"file uploads/{victim} is damaged: its sha256 differs from the manifest"
    ]
    before = await _live_tables(ctx)
    with pytest.raises(Conflict, match="failed its last verification"):
        await restore_backup(ctx, backup.id)
    with pytest.raises(
        BackupFailed, match=f"is damaged, nothing was changed: file uploads/{victim}"
    ):
        await restore_backup(ctx, backup.id, force=True)
    assert await _live_tables(ctx) == before
    assert len(list_backups(ctx.settings.backup_dir).backups) == 1  # no safety backup either


@pytest.mark.parametrize("backend", BACKENDS)
async def test_restore_brings_back_data_and_files_after_a_safety_backup(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend)
    await _seed(ctx)
    backup = await create_backup(ctx)
    files_then = _files(_uploads(ctx))

    # Life goes on: more jobs, a lost original, a deleted result.
    await _seed(ctx, jobs=10, seed=2)
    lost = sorted(files_then)[0]
    (_uploads(ctx) / lost).unlink()
    async with ctx.engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM results WHERE job_id = (SELECT min(job_id) FROM results)")
        )
    changed = await _live_tables(ctx)
    assert changed != backup.manifest["tables"]

    restored = await restore_backup(ctx, backup.id)
    assert await _live_tables(ctx) == backup.manifest["tables"]
    assert _files(_uploads(ctx)) == files_then
    assert restored.warnings == []
    assert restored.files_restored == 1 and restored.files_removed == 10
    assert restored.files_unchanged == len(files_then) - 1

    backups = {b.id: b for b in list_backups(ctx.settings.backup_dir).backups}
    assert restored.safety_backup_id is not None
    safety = backups[restored.safety_backup_id]
    assert safety.manifest["reason"] == f"safety copy before restoring {backup.id}"
    assert safety.manifest["tables"] == changed
    assert safety.manifest["files"]["count"] == len(files_then) - 1 + 10


async def test_verify_without_createdb_fails_clearly(
    make_ops: OpsFactory, databases: Databases
) -> None:
    ctx = make_ops("postgresql")
    backup = await create_backup(ctx)
    server = databases.postgres()
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS backup_nocreatedb")
        admin.execute("CREATE ROLE backup_nocreatedb LOGIN NOCREATEDB")
    limited = make_url(ctx.settings.database_url).set(username="backup_nocreatedb")
    weak = make_ops(
        "postgresql",
        db_url=limited.render_as_string(hide_password=False),
        data_dir=ctx.settings.data_dir,
    )
    with pytest.raises(Forbidden, match=r"backup_nocreatedb may not create databases.*CREATEDB"):
        await verify_backup(weak, backup.id)
    assert list_backups(ctx.settings.backup_dir).backups[0].verified is None


async def test_prune_keeps_the_rules_set_and_the_newest_verified_backup(
    make_ops: OpsFactory,
) -> None:
    base = make_ops(
        "sqlite",
        maint_backup_keep_daily=1,
        maint_backup_keep_weekly=0,
        maint_backup_keep_monthly=0,
    )
    clock = ManualClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    ctx = OpsContext(settings=base.settings, clock=clock, engine=base.engine)
    made = []
    for _ in range(4):
        made.append(await create_backup(ctx))
        clock.advance(86400)
    # Only the oldest is verified; the rules alone would keep the newest day only.
    assert (await verify_backup(ctx, made[0].id)).ok
    crashed = ctx.settings.backup_dir / ".tmp-bkp_01JCRASHED0000000000000000"
    crashed.mkdir()

    plan = await prune_backups(ctx, dry_run=True)
    assert [d["id"] for d in plan.deleted] == [made[2].id, made[1].id]
    assert [(k["id"], k["reasons"]) for k in plan.kept] == [
        (made[3].id, ["daily 2026-03-05"]),
        (made[0].id, ["newest verified"]),
    ]
    assert plan.leftovers == [crashed.name]
    assert len(list_backups(ctx.settings.backup_dir).backups) == 4  # a dry run deletes nothing

    done = await prune_backups(ctx, dry_run=False)
    assert [d["id"] for d in done.deleted] == [d["id"] for d in plan.deleted]
    left = [b.id for b in list_backups(ctx.settings.backup_dir).backups]
    assert left == [made[0].id, made[3].id]
    assert not crashed.exists()


async def test_backup_age_check_and_the_backup_task(make_ops: OpsFactory) -> None:
    base = make_ops("sqlite", maint_backup_max_age_hours=10)
    clock = ManualClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    ctx = OpsContext(settings=base.settings, clock=clock, engine=base.engine)
    spec = next(s for s in all_checks() if s.name == "backup.age")
    assert spec.group == "backup"

    result = await run_check(ctx, spec)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("no verified backup of the sqlite database")
    assert result.details["newest_verified_age_seconds"] is None
    assert [t.setting for t in result.thresholds] == [
        "MAINT_BACKUP_MAX_AGE_HOURS",
        "3 × MAINT_BACKUP_MAX_AGE_HOURS",
    ]

    task = get_task("backup")
    planned = await run_task(ctx, task, dry_run=True)
    assert planned.status is TaskStatus.PLANNED, planned.summary
    assert any("online backup API" in a for a in planned.actions)
    assert not list_backups(ctx.settings.backup_dir).backups

    # An unverified backup does not count.
    await create_backup(ctx)
    assert (await run_check(ctx, spec)).status is Status.CRITICAL

    done = await run_task(ctx, task, dry_run=False)
    assert done.status is TaskStatus.OK, done.summary
    assert "verified: restore took" in done.summary
    clock.advance(3600)
    result = await run_check(ctx, spec)
    assert result.status is Status.OK, result.summary
    assert result.details["newest_verified_age_seconds"] == 3600
    assert result.details["newest_verified_id"] == done.figures["id"]
    assert done.figures["verified_ok"] is True and done.figures["rto_seconds"] > 0

    clock.advance(10 * 3600)  # 11 h > 10 h
    result = await run_check(ctx, spec)
    assert result.status is Status.WARN and "above 10 h" in result.summary
    clock.advance(20 * 3600)  # 31 h > 30 h
    result = await run_check(ctx, spec)
    assert result.status is Status.CRITICAL and "above 30 h" in result.summary
    assert backup_age is spec.run


# ------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    data_dir = tmp_path / "cli-data"
    url = f"sqlite:///{(data_dir / 'app.db').as_posix()}"
    upgrade(url)
    return {"DATA_DIR": str(data_dir), "DB_URL": url, "LOG_FORMAT": "text"}


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["maint", "backup", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_create_list_verify_restore(cli_env: dict[str, str]) -> None:
    data_dir = Path(cli_env["DATA_DIR"])

    async def seed() -> None:
        engine = make_async_engine(cli_env["DB_URL"])
        try:
            plan = SeedPlan(jobs=8, oldest=timedelta(days=1), files=16)
            await seed_jobs(engine, plan, blob_root=data_dir / "uploads")
        finally:
            await engine.dispose()

    asyncio.run(seed())
    code, output = _cli(cli_env, "create", "--verify")
    assert code == 0, output
    assert "created backup bkp_" in output and ": OK, restore took" in output
    backup_id = output.split("created backup ", 1)[1].split(":", 1)[0]

    code, output = _cli(cli_env, "list", "--json")
    assert code == 0, output
    listed = json.loads(output)["backups"]
    assert [b["id"] for b in listed] == [backup_id]
    assert listed[0]["verified_ok"] is True and listed[0]["rto_seconds"] is not None
    assert listed[0]["rows"] > 0 and listed[0]["files"] == 16
    code, output = _cli(cli_env, "list")
    assert code == 0 and backup_id in output

    code, output = _cli(cli_env, "verify", "latest", "--json")
    assert code == 0, output
    assert json.loads(output)["ok"] is True

    shutil.rmtree(data_dir / "uploads")
    code, output = _cli(cli_env, "restore", backup_id)
    assert code == 2 and "pass --yes to confirm" in output
    assert not (data_dir / "uploads").exists()  # refused: nothing restored

    code, output = _cli(cli_env, "restore", backup_id, "--yes")
    assert code == 0, output
    assert "safety backup of the previous state: bkp_" in output
    assert "16 restored" in output
    assert len(stored_files(data_dir / "uploads")) == 16

    # Disaster recovery: the database file is gone; there is nothing to keep a safety copy of.
    for lost in data_dir.glob("app.db*"):
        lost.unlink()
    code, output = _cli(cli_env, "restore", backup_id, "--yes")
    assert code == 0, output
    assert "warning: no safety backup: the database file" in output
    assert "safety backup of the previous state" not in output
    code, output = _cli(cli_env, "verify", "latest")
    assert code == 0 and ": OK, restore took" in output

    code, output = _cli(cli_env, "verify", "bkp_01JN0000000000000000000000")
    assert code == 1 and "NOT_FOUND: no backup bkp_01JN0000000000000000000000" in output

    code, output = _cli(cli_env, "prune", "--dry-run", "--json")
    assert code == 0, output
    # The safety backup is today's newest and now also the newest verified one: the first
    # backup of the day goes.
    planned = json.loads(output)
    assert [d["id"] for d in planned["deleted"]] == [backup_id]
    assert planned["dry_run"] is True and (data_dir / "backups" / backup_id).is_dir()


async def test_restore_keeps_the_maintenance_mode_in_force(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend)
    await _seed(ctx)
    backup = await create_backup(ctx)  # taken with the mode off
    store = SqlMaintenanceStore(ctx.engine)
    mode = MaintenanceService(store, ctx.clock, in_flight=_none_in_flight)
    await mode.start(reason="restoring last night's backup", actor="ops")

    restored = await restore_backup(ctx, backup.id)
    assert restored.warnings == []
    state = await store.get()
    assert state.active(ctx.clock.now()) and state.reason == "restoring last night's backup"
    assert (await store.audit(1))[0].action == "restore"


async def _none_in_flight() -> int:
    return 0
