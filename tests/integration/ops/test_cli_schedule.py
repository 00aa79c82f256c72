"""`maint run` and `maint scheduler --once` against the real databases, with the lock."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cv_evaluator.cli import main
from cv_evaluator.config import Settings
from cv_evaluator.domain.clock import SystemClock
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.lock import MAINTENANCE_LOCK, MaintenanceLock
from cv_evaluator.ops.runs import MaintenanceLog, MaintenanceRun
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.migrate import upgrade
from tests.support.backends import Databases
from tests.support.processes import CliProcess, wait_until


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # `maint scheduler` configures the root logger as the process it normally is.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def env(tmp_path: Path, backend: str, databases: Databases) -> dict[str, str | None]:
    data_dir = tmp_path / "data"
    url = databases.migrated_url(backend, data_dir)
    upgrade(url)
    # A schedule whose slot passed five minutes ago: due now, as a timer firing late would see.
    slot = datetime.now(UTC) - timedelta(minutes=5)
    schedules = tmp_path / "schedules.toml"
    schedules.write_text(
        f'[nightly]\nat = "{slot:%H:%M}"\nchecks = ["cross.*"]\ntasks = ["log_cleanup"]\n'
        '[adhoc]\nevery_days = 7\nchecks = ["cross.*"]\n'
    )
    return {
        "DATA_DIR": str(data_dir),
        "DB_URL": url,
        "LOG_DIR": None,
        "LOG_FORMAT": "json",
        "MAINT_SCHEDULES_FILE": str(schedules),
        "MAINT_SCHEDULER_TIMEZONE": "UTC",
        "MAINT_SCHEDULER_LOCK_WAIT_SECONDS": "0",
    }


def invoke(env: dict[str, str | None], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["maint", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def summary_and_log(out: str) -> tuple[list[str], list[dict[str, Any]]]:
    """`--once` prints one line per slot; the log (JSON lines) goes to standard output too."""
    lines = out.splitlines()
    return (
        [line for line in lines if not line.startswith("{")],
        [json.loads(line) for line in lines if line.startswith("{")],
    )


async def _with_ops(env: dict[str, str | None], work: str) -> list[MaintenanceRun]:
    url = env["DB_URL"]
    assert url is not None
    settings = Settings(data_dir=Path(str(env["DATA_DIR"])), db_url=url)
    engine = make_async_engine(url)
    ctx = OpsContext(settings, SystemClock(), engine, actor="operator")
    try:
        if work == "hold":
            await MaintenanceLock(ctx).acquire(MAINTENANCE_LOCK, "weekly window on host-b")
        return await MaintenanceLog(ctx).since(datetime.now(UTC) - timedelta(days=1))
    finally:
        await engine.dispose()


def hold_the_lock(env: dict[str, str | None]) -> None:
    asyncio.run(_with_ops(env, "hold"))


def runs(env: dict[str, str | None]) -> list[MaintenanceRun]:
    return asyncio.run(_with_ops(env, "read"))


def test_maint_run_takes_the_lock_and_refuses_while_another_holds_it(
    env: dict[str, str | None],
) -> None:
    code, out, err = invoke(env, "run", "adhoc", "--actor", "cron")
    assert code == 0, err
    assert out.startswith("# Maintenance adhoc: ok")

    hold_the_lock(env)
    code, out, err = invoke(env, "run", "adhoc", "--actor", "cron")
    assert code == 2 and out == ""
    assert err.startswith(
        "CONFLICT: another maintenance procedure is running: maintenance lock 'maintenance' "
        "is held by weekly window on host-b since "
    )
    # Refused before anything was done or recorded.
    assert [r.schedule for r in runs(env)] == ["adhoc"]


def test_scheduler_once_runs_what_is_due_then_nothing(env: dict[str, str | None]) -> None:
    code, out, err = invoke(env, "scheduler", "--once")
    assert code == 0, err
    summary, log = summary_and_log(out)
    assert summary == ["nightly\tscheduled\tdone\tok"]
    (run,) = runs(env)
    assert (run.schedule, run.status, run.actor) == ("nightly", "ok", "scheduler (scheduled)")
    # Each decision is a JSON log line naming the schedule and its slot.
    decisions = [(entry["event"], entry.get("schedule")) for entry in log]
    assert [d for d in decisions if d[0] in ("due", "run", "done")] == [
        ("due", "nightly"),
        ("run", "nightly"),
        ("done", "nightly"),
    ]
    # The slot is handled: the next look finds nothing due (the ad-hoc schedule has no time).
    code, out, err = invoke(env, "scheduler", "--once")
    assert code == 0 and summary_and_log(out)[0] == [] and "nothing due" in err
    assert len(runs(env)) == 1


def test_scheduler_once_skips_a_slot_it_cannot_lock_and_says_so(
    env: dict[str, str | None],
) -> None:
    hold_the_lock(env)
    code, out, _ = invoke(env, "scheduler", "--once")
    assert code == 2
    (line,) = summary_and_log(out)[0]
    assert line.startswith("nightly\tscheduled\tskipped\tmaintenance lock 'maintenance' is held")
    (entry,) = runs(env)
    assert entry.status == "skipped" and "weekly window on host-b" in entry.issues[0]["summary"]


def test_scheduler_dry_run_changes_nothing(env: dict[str, str | None]) -> None:
    code, out, err = invoke(env, "scheduler", "--once", "--dry-run")
    assert code == 0, err
    assert summary_and_log(out)[0] == ["nightly\tscheduled\tdone\tok"]
    (run,) = runs(env)
    assert run.dry_run and all(t["status"] in ("planned", "skipped") for t in run.tasks)


def test_the_scheduler_zone_is_validated(env: dict[str, str | None]) -> None:
    code, _, err = invoke({**env, "MAINT_SCHEDULER_TIMEZONE": "Mars/Olympus"}, "scheduler")
    assert code == 1 and "MAINT_SCHEDULER_TIMEZONE" in err and "IANA time zone" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_scheduler_process_stops_cleanly_on_a_signal(
    env: dict[str, str | None], tmp_path: Path, sig: signal.Signals
) -> None:
    environment = {key: value for key, value in env.items() if value is not None}
    # Nothing due, so the process sleeps towards the next slot when the signal arrives.
    schedules = tmp_path / "later.toml"
    later = datetime.now(UTC) + timedelta(hours=3)
    schedules.write_text(f'[nightly]\nat = "{later:%H:%M}"\nchecks = ["cross.*"]\n')
    environment["MAINT_SCHEDULES_FILE"] = str(schedules)
    process = CliProcess(["maint", "scheduler"], environment, tmp_path / "scheduler.log")
    try:
        wait_until(lambda: '"event": "sleep"' in process.log(), 30, "the scheduler to sleep")
        process.signal(sig)
        assert process.wait(30) == 0, process.log()
    finally:
        process.stop()
    events = [json.loads(line)["event"] for line in process.log().splitlines() if line[:1] == "{"]
    assert events[0] == "start" and events[-2:] == ["stop", "stopped"]
    assert "run" not in events
