"""A maintenance window's decisions on the real databases, with the service scripted.

The live-service path (a real `serve`, real HTTP, the smoke test through the bypass token) is in
tests/acceptance/test_maintenance_window.py; here each failure is provoked on purpose to show
where the window stops and whether it leaves the service open or closed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.probe import ProbeResult, RequestCounts
from cv_evaluator.ops.runs import MaintenanceRun
from cv_evaluator.ops.schedules import Schedule
from cv_evaluator.ops.window import MaintenanceWindow, WindowOptions
from cv_evaluator.service.maintenance import MaintenanceService
from cv_evaluator.storage.ledger import SqlJobLedger
from cv_evaluator.storage.maintenance import SqlMaintenanceStore
from tests.integration.ops.conftest import OpsFactory
from tests.support.fake_probe import DOWN, HEALTHY, FakeProbe
from tests.support.seeding import SeedPlan, seed_jobs

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])

SCHEDULE = Schedule(
    name="weekly",
    every_days=7,
    description="test",
    checks=("queue.depth",),
    tasks=("analyze",),
)


async def _no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


def _mode(ctx: OpsContext) -> MaintenanceService:
    ledger = SqlJobLedger(ctx.engine)

    async def in_flight() -> int:
        return (await ledger.count_by_status()).get("processing", 0)

    return MaintenanceService(SqlMaintenanceStore(ctx.engine), ctx.clock, in_flight)


def _window(
    ctx: OpsContext,
    probe: FakeProbe,
    *,
    monitor_minutes: int = 0,
    dry_run: bool = False,
    drain_timeout: float = 5.0,
) -> MaintenanceWindow:
    options = WindowOptions(
        monitor_minutes=monitor_minutes,
        dry_run=dry_run,
        max_minutes=60,
        drain_timeout_seconds=drain_timeout,
        smoke_timeout_seconds=5,
        monitor_interval_seconds=60,
        error_rate_warn=0.05,
    )
    return MaintenanceWindow(
        ctx, SCHEDULE, mode=_mode(ctx), probe=probe, options=options, sleep=_no_wait
    )


def _ops(make_ops: OpsFactory, backend: str) -> OpsContext:
    # No verified backup exists yet, so every pre-flight takes and verifies one.
    return make_ops(backend)


def _steps(run: MaintenanceRun) -> list[tuple[str, str]]:
    return [(s["step"], s["status"]) for s in run.checks["window"]["steps"]]


async def test_a_clean_window_closes_verifies_through_the_bypass_and_reopens(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    probe = FakeProbe(counts=[RequestCounts(10, 0), RequestCounts(30, 0), RequestCounts(50, 0)])
    run = await _window(ctx, probe, monitor_minutes=2).run()

    assert run.kind == "window" and run.status == "ok", run.issues
    assert _steps(run) == [
        ("pre-flight", "ok"),
        ("maintenance mode", "ok"),
        ("drain", "ok"),
        ("verify", "ok"),
        ("reopen", "ok"),
        ("post-maintenance checks", "ok"),
        ("monitor", "ok"),
    ]
    assert run.checks["window"]["mode"] == "cleared"
    assert [t["task"] for t in run.tasks] == ["analyze"]
    # The smoke test went through with the token the window was given when it closed the service.
    assert probe.smoke_calls and probe.smoke_calls[0]["bypass_token"]
    assert probe.smoke_calls[0]["idempotency_key"] == f"maintenance-smoke-{run.id}"
    assert [m["error_rate"] for m in run.checks["window"]["monitor"]] == [0.0, 0.0]
    status = await _mode(ctx).status()
    assert status["enabled"] is False
    actions = [h["action"] for h in status["history"]]
    assert actions[:3] == ["stop", "resume", "start"]  # newest first
    assert run.finished_at is not None and run.duration_seconds is not None
    # The pre-flight found no verified backup and took one, verified, before closing anything.
    preflight = run.checks["window"]["steps"][0]
    assert preflight["details"]["backup_taken"]["ok"] is True


async def test_an_unhealthy_service_stops_the_window_before_it_closes_anything(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    run = await _window(ctx, FakeProbe(health=[DOWN])).run()

    assert run.status == "failed"
    assert _steps(run) == [("pre-flight", "failed")]
    assert "connection refused" in run.checks["window"]["steps"][0]["summary"]
    assert run.checks["window"]["mode"] == "never set"
    assert run.tasks == []
    assert (await _mode(ctx).status())["enabled"] is False


async def test_a_window_refuses_to_start_inside_another_maintenance(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    await _mode(ctx).start(reason="someone else's upgrade", actor="ops")
    run = await _window(ctx, FakeProbe()).run()

    assert run.status == "failed"
    assert "someone else's upgrade" in run.checks["window"]["steps"][0]["summary"]
    # Their maintenance is left as it was.
    assert (await _mode(ctx).status())["reason"] == "someone else's upgrade"


async def test_a_failed_smoke_test_keeps_the_service_closed_without_an_end(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    broken = ProbeResult(False, "smoke test: job job_x failed: EVALUATION_FAILED: boom", {})
    run = await _window(ctx, FakeProbe(smoke=[broken]), monitor_minutes=3).run()

    assert run.status == "failed"
    assert _steps(run)[-1] == ("verify", "failed")
    assert run.checks["window"]["mode"] == "left on"
    status = await _mode(ctx).status()
    assert status["enabled"] is True
    assert status["ends_at"] is None  # must not reopen by itself on an unverified system
    assert status["workers_paused"] is True
    assert run.id in status["reason"] and "maint mode stop" in status["reason"]
    assert any("EVALUATION_FAILED" in i["summary"] for i in run.issues)
    assert run.checks["window"]["monitor"] == []


async def test_jobs_that_do_not_drain_in_time_reopen_the_untouched_service(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    await seed_jobs(
        ctx.engine,
        SeedPlan(jobs=2, oldest=timedelta(minutes=1), completed=0, failed=0, processing=1),
    )
    run = await _window(ctx, FakeProbe(), drain_timeout=0).run()

    assert run.status == "failed"
    assert _steps(run)[-2:] == [("drain", "failed"), ("reopen", "ok")]
    assert run.checks["window"]["steps"][2]["details"]["in_flight_at_end"] == 2
    assert run.tasks == []  # nothing was changed
    assert run.checks["window"]["mode"] == "cleared"
    assert (await _mode(ctx).status())["enabled"] is False


async def test_an_interrupted_window_is_recorded_and_leaves_the_service_closed(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    window = _window(ctx, FakeProbe(smoke=[asyncio.CancelledError()]))
    with pytest.raises(asyncio.CancelledError):
        await window.run()

    status = await _mode(ctx).status()
    assert status["enabled"] is True and status["ends_at"] is None
    assert "interrupted" in status["reason"]
    from cv_evaluator.ops.runs import MaintenanceLog

    run = await MaintenanceLog(ctx).latest(kind="window")
    assert run is not None and run.status == "failed" and run.finished_at is not None
    assert run.checks["window"]["mode"] == "left on"
    assert any("interrupted" in i["summary"] for i in run.issues)


async def test_monitoring_reports_the_minute_something_went_wrong(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    probe = FakeProbe(
        # pre-flight, verify, then minutes 1, 2, 3
        health=[HEALTHY, HEALTHY, HEALTHY, DOWN, HEALTHY],
        counts=[
            RequestCounts(0, 0),
            RequestCounts(100, 0),
            RequestCounts(200, 0),
            RequestCounts(300, 20),
        ],
    )
    run = await _window(ctx, probe, monitor_minutes=3).run()

    monitor = run.checks["window"]["monitor"]
    assert [m["status"] for m in monitor] == ["ok", "critical", "warn"]
    assert monitor[2]["error_rate"] == 0.2
    sources = [i["source"] for i in run.issues]
    assert "monitor minute 2" in sources and "monitor minute 3" in sources
    assert run.status == "critical"
    # Monitoring reports; it does not close the service again.
    assert run.checks["window"]["mode"] == "cleared"
    assert (await _mode(ctx).status())["enabled"] is False


async def test_a_dry_run_plans_without_touching_the_mode_or_the_data(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = _ops(make_ops, backend)
    probe = FakeProbe()
    run = await _window(ctx, probe, dry_run=True, monitor_minutes=5).run()

    assert run.dry_run is True
    assert [s for s, _ in _steps(run)] == ["pre-flight", "maintenance mode", "verify", "monitor"]
    assert {status for _, status in _steps(run)[1:]} == {"planned"}
    assert [t["status"] for t in run.tasks] == ["planned"]
    assert probe.smoke_calls == []
    assert (await _mode(ctx).status())["history"] == []
    # No backup was taken either: the plan says one would be.
    assert "would be taken" in run.checks["window"]["steps"][0]["summary"]
