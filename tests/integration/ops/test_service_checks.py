"""The service checks against a real running API, real processes, real disks and log files."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import uvicorn
from sqlalchemy import insert, text

from cv_evaluator.bootstrap import build_app, build_runtime
from cv_evaluator.config import LogFormat, Settings
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.ops.checks.service import (
    NO_FORECAST,
    find_service_processes,
    process_outcome,
)
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, CheckSkipped, Status
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.resources import disk_figures
from cv_evaluator.ops.runner import run_check
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.storage.tables import maintenance_runs
from tests.integration.ops.conftest import OpsFactory
from tests.support.processes import ServeProcess, free_port


async def check(ctx: OpsContext, name: str) -> CheckResult:
    (spec,) = select_checks([name])
    return await run_check(ctx, spec)


@dataclass
class RunningApi:
    url: str
    server: uvicorn.Server


async def _serve(settings: Settings) -> AsyncIterator[RunningApi]:
    port = free_port()
    app = build_app(build_runtime(settings), workers=0)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            task.cancel()
            raise AssertionError("the API did not start")
        await asyncio.sleep(0.01)
    try:
        yield RunningApi(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def _api_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, log_format=LogFormat.TEXT, ai_local_processes=0)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[RunningApi]:
    settings = _api_settings(tmp_path / "api")
    await asyncio.to_thread(upgrade, settings.database_url)
    async for running in _serve(settings):
        yield running


@pytest.fixture
async def unready_api(tmp_path: Path) -> AsyncIterator[RunningApi]:
    # The database is never migrated: /readyz answers 503 naming the database.
    async for running in _serve(_api_settings(tmp_path / "unready")):
        yield running


# --- HTTP endpoints -------------------------------------------------------------------------


async def test_healthz_and_readyz_ok_against_a_running_api(
    make_ops: OpsFactory, api: RunningApi
) -> None:
    ctx = make_ops("sqlite", maint_base_url=api.url)
    for name in ("service.healthz", "service.readyz"):
        result = await check(ctx, name)
        assert result.status is Status.OK, result.summary
        assert result.summary.startswith(f"GET {api.url}/{name.split('.')[1]} answered 200 in ")
        assert result.details["status_code"] == 200
        assert result.details["elapsed_ms"] > 0
        assert {t.setting for t in result.thresholds} == {
            "MAINT_HTTP_WARN_MS",
            "MAINT_HTTP_TIMEOUT_SECONDS",
        }
    readyz = await check(ctx, "service.readyz")
    assert readyz.details["body"]["status"] == "ready"


async def test_slow_answers_are_a_warning(make_ops: OpsFactory, api: RunningApi) -> None:
    ctx = make_ops("sqlite", maint_base_url=api.url, maint_http_warn_ms=0.001)
    for name in ("service.healthz", "service.readyz"):
        result = await check(ctx, name)
        assert result.status is Status.WARN, result.summary
        assert "slower than 0.001 ms" in result.summary


async def test_readyz_not_ready_is_critical_and_names_what_failed(
    make_ops: OpsFactory, unready_api: RunningApi
) -> None:
    ctx = make_ops("sqlite", maint_base_url=unready_api.url)
    result = await check(ctx, "service.readyz")
    assert result.status is Status.CRITICAL
    assert result.details["status_code"] == 503
    assert result.details["failed_checks"]["database"] == "not migrated"
    assert "not ready: database (not migrated)" in result.summary
    assert (await check(ctx, "service.healthz")).status is Status.OK


async def test_closed_port_is_critical(make_ops: OpsFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ctx = make_ops("sqlite", maint_base_url=url)
    for name in ("service.healthz", "service.readyz"):
        result = await check(ctx, name)
        assert result.status is Status.CRITICAL
        assert result.summary.startswith(f"GET {url}/")
        assert "unreachable" in result.summary
        assert result.details["status_code"] is None


# --- processes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    # One process for the module: starting `cv-evaluator serve` is the slow part of these tests.
    directory = tmp_path_factory.mktemp("serve")
    env = {
        "DATA_DIR": str(directory / "data"),
        "DB_URL": f"sqlite:///{(directory / 'data' / 'app.db').as_posix()}",
        "QUEUE_BACKEND": "db",
        "LOG_FORMAT": "text",
        "APP_WORKERS": "0",
        "AI_LOCAL_PROCESSES": "0",
    }
    process = ServeProcess(env, directory / "serve.log")
    try:
        process.wait_healthy()
        yield process
    finally:
        process.stop()


def _only(pid: int) -> list[psutil.Process]:
    # The real finder would also judge any other cv-evaluator running on this machine.
    return [psutil.Process(pid)]


async def test_processes_finds_and_measures_a_real_serve_process(
    make_ops: OpsFactory, serve_process: ServeProcess
) -> None:
    pid = serve_process.process.pid
    found = await asyncio.to_thread(find_service_processes)
    assert pid in [p.pid for p in found]
    ctx = make_ops("sqlite", maint_memory_warn_ratio=0.99, maint_memory_critical_ratio=1.0)
    outcome = await process_outcome(ctx, finder=lambda: _only(pid))
    assert outcome.status is Status.OK, outcome.summary
    (figures,) = outcome.details["processes"]
    assert figures["pid"] == pid and figures["role"] == "serve"
    assert figures["rss_bytes"] > 10 * 1024 * 1024
    assert figures["threads"] >= 1 and figures["uptime_seconds"] >= 0
    assert f"serve pid {pid}" in outcome.summary
    assert outcome.details["memory"][0]["used_bytes"] > 0


async def test_processes_memory_over_the_limit_is_warn_then_critical(
    make_ops: OpsFactory, serve_process: ServeProcess
) -> None:
    pid = serve_process.process.pid
    ctx = make_ops("sqlite", maint_memory_warn_ratio=1e-9, maint_memory_critical_ratio=1.0)
    warn = await process_outcome(ctx, finder=lambda: _only(pid))
    assert warn.status is Status.WARN and warn.summary.startswith("memory ")
    ctx = make_ops("sqlite", maint_memory_warn_ratio=1e-9, maint_memory_critical_ratio=2e-9)
    critical = await process_outcome(ctx, finder=lambda: _only(pid))
    assert critical.status is Status.CRITICAL


async def test_processes_busy_cpu_is_a_warning(
    make_ops: OpsFactory, serve_process: ServeProcess
) -> None:
    pid = serve_process.process.pid
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=serve_process.base_url, timeout=5) as client:
            while not stop.is_set():
                client.get("/readyz")

    load = threading.Thread(target=hammer)
    load.start()
    try:
        ctx = make_ops("sqlite", maint_process_cpu_warn_percent=0.5, maint_memory_warn_ratio=1.0)
        outcome = await process_outcome(ctx, finder=lambda: _only(pid))
    finally:
        stop.set()
        await asyncio.to_thread(load.join, 10)
    assert outcome.status is Status.WARN, outcome.summary
    assert f"serve pid {pid} at " in outcome.summary and "% CPU" in outcome.summary


async def test_no_service_process_is_skipped(make_ops: OpsFactory) -> None:
    with pytest.raises(CheckSkipped, match="no cv-evaluator process on this host"):
        await process_outcome(make_ops("sqlite"), finder=list)


# --- disks ----------------------------------------------------------------------------------


def _free(path: Path) -> tuple[int, float]:
    figures = disk_figures(path)
    return int(figures["free_bytes"]), float(figures["free_ratio"])


async def test_disk_ok_reports_each_filesystem_once_with_its_labels(
    make_ops: OpsFactory, tmp_path: Path
) -> None:
    _, ratio = _free(tmp_path)
    ctx = make_ops(
        "sqlite",
        maint_disk_warn_free_ratio=ratio / 2,
        maint_disk_critical_free_ratio=ratio / 4,
        log_dir=tmp_path / "logs" / "not-yet",
    )
    result = await check(ctx, "service.disk")
    assert result.status is Status.OK, result.summary
    (filesystem,) = result.details["filesystems"]  # data, backups and logs share tmp's disk
    assert filesystem["labels"] == ["data", "backups", "logs"]
    assert filesystem["free_ratio"] == pytest.approx(ratio, abs=0.01)
    assert result.details["min_free_ratio"] == filesystem["free_ratio"]
    assert any(
        note.startswith("logs (") and "does not exist yet: judged on" in note
        for note in result.details["notes"]
    )
    assert result.summary.endswith(NO_FORECAST)
    assert NO_FORECAST in filesystem["forecast"]["reason"]
    assert filesystem["forecast"]["days_until_full"] is None
    assert len(result.thresholds) == 4


async def test_disk_below_the_free_ratios_is_warn_then_critical(
    make_ops: OpsFactory, tmp_path: Path
) -> None:
    _, ratio = _free(tmp_path)
    ctx = make_ops(
        "sqlite", maint_disk_warn_free_ratio=0.999, maint_disk_critical_free_ratio=ratio / 2
    )
    warn = await check(ctx, "service.disk")
    assert warn.status is Status.WARN
    assert warn.summary.startswith("data+backups: ") and "% free (" in warn.summary
    ctx = make_ops(
        "sqlite",
        data_dir=tmp_path / "other",
        maint_disk_warn_free_ratio=0.999,
        maint_disk_critical_free_ratio=0.999,
    )
    critical = await check(ctx, "service.disk")
    assert critical.status is Status.CRITICAL


async def _record_samples(ctx: OpsContext, points: list[tuple[datetime, int]]) -> None:
    rows = []
    for at, free in points:
        figures = {"at": at.isoformat(), "disk": {"data": {"free_bytes": free}}}
        rows.append(
            {
                "id": new_id(IdKind.JOB),
                "kind": "run",
                "schedule": "daily",
                "actor": "test",
                "host": "test-host",
                "dry_run": False,
                "status": "ok",
                "started_at": at,
                "finished_at": at,
                "duration_seconds": 1.0,
                "tasks": [],
                "checks": [],
                "issues": [],
                "before": figures,
                "after": figures,
            }
        )
    async with ctx.engine.begin() as connection:
        await connection.execute(insert(maintenance_runs), rows)


def _falling(ctx: OpsContext, free_now: int, per_day: float) -> list[tuple[datetime, int]]:
    """Samples over the last two days on a straight line that ends at today's free space."""
    now = ctx.clock.now()
    return [
        (now - timedelta(hours=hours), free_now + int(per_day * hours / 24))
        for hours in (48, 36, 24, 12, 6)
    ]


@pytest.mark.parametrize(("days_left", "expected"), [(1.0, Status.CRITICAL), (7.0, Status.WARN)])
async def test_disk_forecast_from_the_maintenance_log(
    make_ops: OpsFactory, backend: str, tmp_path: Path, days_left: float, expected: Status
) -> None:
    ctx = make_ops(backend, maint_disk_warn_free_ratio=1e-6, maint_disk_critical_free_ratio=1e-7)
    free_now, _ = _free(tmp_path)
    await _record_samples(ctx, _falling(ctx, free_now, free_now / days_left))
    result = await check(ctx, "service.disk")
    assert result.status is expected, result.summary
    (filesystem,) = result.details["filesystems"]
    assert filesystem["forecast"]["samples"] == 11  # five runs, before and after, plus now
    assert filesystem["forecast"]["days_until_full"] == pytest.approx(days_left, rel=0.05)
    assert result.summary.startswith("data+backups: full in ")
    assert NO_FORECAST not in result.summary


async def test_disk_with_too_little_history_says_so(make_ops: OpsFactory, tmp_path: Path) -> None:
    ctx = make_ops("sqlite", maint_disk_warn_free_ratio=1e-6)
    free_now, _ = _free(tmp_path)
    now = ctx.clock.now()
    await _record_samples(ctx, [(now - timedelta(minutes=10), free_now + 10**9)])
    result = await check(ctx, "service.disk")
    assert result.status is Status.OK
    assert result.summary.endswith(NO_FORECAST)
    forecast = result.details["filesystems"][0]["forecast"]
    assert forecast["days_until_full"] is None
    assert forecast["reason"] == f"{NO_FORECAST} (samples span less than an hour)"


async def test_disk_still_judged_when_the_maintenance_log_is_unreadable(
    make_ops: OpsFactory,
) -> None:
    ctx = make_ops("sqlite", maint_disk_warn_free_ratio=0.999)
    async with ctx.engine.begin() as connection:
        await connection.execute(text("DROP TABLE maintenance_runs"))
    result = await check(ctx, "service.disk")
    assert result.status is Status.WARN
    assert "no forecast: the maintenance log is unreadable (OperationalError" in result.summary


# --- logs -----------------------------------------------------------------------------------


async def test_logs_skipped_without_log_dir(make_ops: OpsFactory) -> None:
    result = await check(make_ops("sqlite"), "service.logs")
    assert result.status is Status.SKIPPED
    assert result.summary == "LOG_DIR is not set: logs go to stdout only"


async def test_logs_missing_directory_is_a_warning(make_ops: OpsFactory, tmp_path: Path) -> None:
    result = await check(make_ops("sqlite", log_dir=tmp_path / "nowhere"), "service.logs")
    assert result.status is Status.WARN
    assert "does not exist" in result.summary


def _write_logs(directory: Path, sizes: dict[str, int]) -> None:
    for name, size in sizes.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


async def test_logs_over_the_limit_warn_and_list_the_largest(
    make_ops: OpsFactory, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    sizes = {
        "serve.log": 300_000,
        "serve.log.1": 200_000,
        "worker.log": 50_000,
        "old/worker.log.2.gz": 400_000,
        "a.log": 10,
        "b.log": 20,
        "c.log": 30,
    }
    _write_logs(log_dir, sizes)
    ok = await check(make_ops("sqlite", log_dir=log_dir), "service.logs")
    assert ok.status is Status.OK
    assert ok.details["total_bytes"] == sum(sizes.values()) and ok.details["files"] == 7
    assert ok.thresholds[0].setting == "MAINT_LOG_DIR_WARN_MB"
    result = await check(
        make_ops("sqlite", log_dir=log_dir, maint_log_dir_warn_mb=0.5), "service.logs"
    )
    assert result.status is Status.WARN
    largest: list[dict[str, Any]] = result.details["largest"]
    assert [f["path"] for f in largest] == [
        "old/worker.log.2.gz",
        "serve.log",
        "serve.log.1",
        "worker.log",
        "c.log",
    ]
    assert "largest old/worker.log.2.gz" in result.summary
    assert "log_cleanup" in result.summary
