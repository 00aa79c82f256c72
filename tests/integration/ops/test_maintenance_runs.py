"""`maint run` end to end on both backends: tasks, checks, the log row, the reports."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cv_evaluator.ops import registry
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskOutcome
from cv_evaluator.ops.report import report_html, report_json, report_markdown
from cv_evaluator.ops.runs import MaintenanceLog, run_schedule
from cv_evaluator.ops.schedules import Schedule, load_schedules
from cv_evaluator.storage.tables import maintenance_runs
from tests.integration.ops.conftest import OpsFactory


def schedule(*, checks: tuple[str, ...], tasks: tuple[str, ...]) -> Schedule:
    return Schedule("daily", 1.0, "test", checks=checks, tasks=tasks)


async def rows(ctx: OpsContext) -> list[dict[str, Any]]:
    async with ctx.engine.connect() as connection:
        result = await connection.execute(select(maintenance_runs))
        return [dict(r._mapping) for r in result]


async def test_a_run_records_tasks_checks_and_figures(
    make_ops: OpsFactory, backend: str, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "serve-1.log").write_text("{}\n")
    ctx = make_ops(backend, log_dir=logs)
    run = await run_schedule(
        ctx, schedule(checks=("queue.*", "cross.*"), tasks=("log_cleanup",)), dry_run=False
    )

    assert run.status == "ok", run.issues
    assert run.exit_code == 0
    assert [t["task"] for t in run.tasks] == ["log_cleanup"]
    assert run.tasks[0]["status"] == "ok"
    assert {c["check"] for c in run.checks["checks"]} >= {"cross.unfinished_lag", "cross.orphans"}
    assert run.finished_at is not None and run.duration_seconds is not None
    assert run.before["disk"]["data"]["free_bytes"] > 0
    assert run.after["database"]["rows"]["maintenance_runs"] == 1
    stored = await rows(ctx)
    assert len(stored) == 1 and stored[0]["status"] == "ok"
    assert stored[0]["actor"] == "cli" and not stored[0]["dry_run"]


async def test_a_failing_task_is_recorded_and_the_others_still_run(
    make_ops: OpsFactory, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(_ctx: OpsContext, _dry_run: bool) -> TaskOutcome:
        raise RuntimeError("disk on fire")

    registry.all_tasks()  # load the catalogue before adding to it
    monkeypatch.setitem(
        registry._TASKS, "explode", registry.TaskSpec("explode", "fails", registry.always, explode)
    )
    ctx = make_ops(backend)
    run = await run_schedule(
        ctx, schedule(checks=("queue.*",), tasks=("explode", "log_cleanup")), dry_run=False
    )

    assert run.status == "failed" and run.exit_code == 2
    assert [(t["task"], t["status"]) for t in run.tasks] == [
        ("explode", "failed"),
        ("log_cleanup", "skipped"),
    ]
    assert "disk on fire" in run.tasks[0]["summary"]
    assert any(i["source"] == "task explode" for i in run.issues)


async def test_an_interrupted_run_is_on_record_as_failed(
    make_ops: OpsFactory, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def hang(_ctx: OpsContext, _dry_run: bool) -> TaskOutcome:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    registry.all_tasks()
    monkeypatch.setitem(
        registry._TASKS, "hang", registry.TaskSpec("hang", "hangs", registry.always, hang)
    )
    ctx = make_ops(backend)
    running = asyncio.create_task(
        run_schedule(ctx, schedule(checks=(), tasks=("log_cleanup", "hang")), dry_run=False)
    )
    await asyncio.wait_for(started.wait(), 10)
    # While it runs, the row already shows the finished task.
    (row,) = await rows(ctx)
    assert row["status"] == "running"
    assert [t["task"] for t in row["tasks"]] == ["log_cleanup"]
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    (row,) = await rows(ctx)
    assert row["status"] == "failed"
    assert row["finished_at"] is not None
    assert "interrupted" in json.dumps(row["issues"])


async def test_dry_run_is_marked_and_does_not_count_as_a_success(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend)
    run = await run_schedule(ctx, schedule(checks=("queue.*",), tasks=("retention",)), dry_run=True)
    assert run.dry_run
    assert run.tasks[0]["status"] == "planned"
    assert await MaintenanceLog(ctx).last_successes() == {}
    real = await run_schedule(ctx, schedule(checks=("queue.*",), tasks=()), dry_run=False)
    assert (await MaintenanceLog(ctx).last_successes())["daily"] == real.finished_at


async def test_reports_render_every_section(
    make_ops: OpsFactory, backend: str, tmp_path: Path
) -> None:
    ctx = make_ops(backend, log_dir=tmp_path)
    daily = load_schedules()["daily"]
    run = await run_schedule(
        ctx, schedule(checks=("queue.*", "cross.*"), tasks=("log_cleanup",)), dry_run=False
    )
    last = await MaintenanceLog(ctx).last_successes()

    markdown = report_markdown(run, every_days=daily.every_days, last_success=last.get("daily"))
    for heading in (
        "## Tasks",
        "## Issues encountered",
        "## Post-maintenance checks",
        "## Resources and database, before and after",
    ):
        assert heading in markdown
    assert run.finished_at is not None
    due = (run.finished_at + timedelta(days=1)).isoformat(timespec="seconds")
    assert f"next daily run due: {due}" in markdown
    assert "rows in jobs" in markdown

    body = json.loads(report_json([run], every_days={"daily": 1.0}, last=last))
    assert body["id"] == run.id and body["successful"] is True
    assert body["tasks_completed"] == "1 of 1"
    assert body["post_maintenance_status"] == run.checks["status"]

    page = report_html([run], every_days={"daily": 1.0}, last=last)
    assert page.startswith("<!doctype html>") and run.id in page
    assert "<script" not in page
