"""The scheduler driven by a fake clock and a fake sleep: no real waiting anywhere.

The maintenance log and the lock are the real ones over an in-memory SQLite database, so what
the scheduler reads (last successes) and takes (the lock) is what production reads and takes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from cv_evaluator.config import Settings
from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.observability.logging import JsonFormatter
from cv_evaluator.ops.calendar import Timing
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.lock import MAINTENANCE_LOCK, MaintenanceLock
from cv_evaluator.ops.runs import MaintenanceLog
from cv_evaluator.ops.scheduler import CATCH_UP, SCHEDULED, MaintenanceScheduler
from cv_evaluator.ops.schedules import Schedule, load_schedules
from cv_evaluator.storage.tables import metadata

BERLIN = ZoneInfo("Europe/Berlin")
ZULU = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[OpsContext]:
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield OpsContext(settings=settings, clock=ManualClock(), engine=engine, actor="test")
    await engine.dispose()


async def record_success(ctx: OpsContext, schedule: str, finished: datetime) -> None:
    log = MaintenanceLog(dataclasses.replace(ctx, clock=ManualClock(finished)))
    run_id = await log.start(schedule, dry_run=False, before={})
    await log.update(run_id, status="ok", finished_at=finished, duration_seconds=1.0)


class Harness:
    """Runs a scheduler on a fake clock; records what it performed, and when (local time)."""

    def __init__(
        self,
        ctx: OpsContext,
        start: datetime,
        zone: ZoneInfo,
        *,
        schedules: dict[str, Schedule] | None = None,
        minutes: dict[str, float] | None = None,
        until: datetime | None = None,
        lock_wait: timedelta = timedelta(minutes=30),
    ) -> None:
        self.clock = ManualClock(start)
        self.ctx = dataclasses.replace(ctx, clock=self.clock)
        self.zone = zone
        self.minutes = minutes or {}
        self.until = until
        self.calls: list[tuple[str, str, str]] = []
        self.naps: list[float] = []
        self.on_nap: list[Any] = []
        self.on_execute: list[Any] = []
        self.scheduler = MaintenanceScheduler(
            self.ctx,
            schedules if schedules is not None else load_schedules(),
            self.execute,
            self.clock,
            self.sleep,
            zone=zone,
            holder="test scheduler",
            lock_wait=lock_wait,
        )

    async def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.clock.advance(seconds)
        for hook in self.on_nap:
            await hook()
        if self.until is not None and self.clock.now() >= self.until:
            self.scheduler.stop()
        await asyncio.sleep(0)

    async def execute(self, schedule: Schedule, trigger: str) -> str:
        local = self.clock.now().astimezone(self.zone).isoformat(timespec="minutes")
        self.calls.append((schedule.name, trigger, local))
        holder = await MaintenanceLock(self.ctx).current(MAINTENANCE_LOCK)
        assert holder is not None and holder.holder == "test scheduler"
        self.clock.advance(self.minutes.get(schedule.name, 0) * 60)
        for hook in self.on_execute:
            await hook(schedule)
        return "done"


async def test_slots_fire_at_local_times_across_spring_forward(ctx: OpsContext) -> None:
    # Berlin skips 02:00-03:00 on Sunday 2026-03-29; the daily 02:00 runs at 03:00 that day.
    # The weekly window takes 90 minutes: what falls due meanwhile runs after it, in order.
    harness = Harness(
        ctx,
        at("2026-03-27T12:00+01:00"),
        BERLIN,
        minutes={"weekly": 90},
        until=at("2026-04-06T00:00+02:00"),
    )
    await harness.scheduler.run_forever()

    assert harness.calls == [
        ("daily", SCHEDULED, "2026-03-28T02:00+01:00"),
        ("weekly", SCHEDULED, "2026-03-29T03:00+02:00"),
        ("daily", SCHEDULED, "2026-03-29T04:30+02:00"),
        ("daily", SCHEDULED, "2026-03-30T02:00+02:00"),
        ("daily", SCHEDULED, "2026-03-31T02:00+02:00"),
        ("daily", SCHEDULED, "2026-04-01T02:00+02:00"),
        ("daily", SCHEDULED, "2026-04-02T02:00+02:00"),
        ("daily", SCHEDULED, "2026-04-03T02:00+02:00"),
        ("daily", SCHEDULED, "2026-04-04T02:00+02:00"),
        # The first Sunday of April: weekly, monthly (due at 04:00, during weekly), quarterly.
        ("daily", SCHEDULED, "2026-04-05T02:00+02:00"),
        ("weekly", SCHEDULED, "2026-04-05T03:00+02:00"),
        ("monthly", SCHEDULED, "2026-04-05T04:30+02:00"),
        ("quarterly", SCHEDULED, "2026-04-05T06:00+02:00"),
    ]
    # Woken at least every minute, never later than a slot.
    assert max(harness.naps) <= 60


async def test_a_time_repeated_by_fall_back_runs_once(ctx: OpsContext) -> None:
    nightly = Schedule("nightly", 1.0, "", (), (), timing=Timing(time(1, 30)))
    new_york = ZoneInfo("America/New_York")
    harness = Harness(
        ctx,
        at("2026-10-30T12:00-04:00"),
        new_york,
        schedules={"nightly": nightly},
        until=at("2026-11-03T12:00-05:00"),
    )
    await harness.scheduler.run_forever()
    assert [local for _, _, local in harness.calls] == [
        "2026-10-31T01:30-04:00",
        "2026-11-01T01:30-04:00",  # 01:30 EDT; 01:30 EST an hour later is the same slot
        "2026-11-02T01:30-05:00",
        "2026-11-03T01:30-05:00",
    ]


async def test_catch_up_after_downtime_runs_each_missed_schedule_once(ctx: OpsContext) -> None:
    await record_success(ctx, "daily", at("2026-11-20T02:05Z"))
    await record_success(ctx, "weekly", at("2026-11-22T03:30Z"))
    await record_success(ctx, "monthly", at("2026-11-01T04:40Z"))
    await record_success(ctx, "quarterly", at("2026-10-04T06:50Z"))
    # Down from 2026-11-23 to Tuesday 2026-12-08 10:00: many daily slots, two weekly, one
    # monthly were missed; the quarterly one (October 4th) was done.
    harness = Harness(ctx, at("2026-12-08T10:00Z"), ZULU)

    outcomes = await harness.scheduler.run_once()

    assert harness.calls == [
        ("weekly", CATCH_UP, "2026-12-08T10:00+00:00"),
        ("monthly", CATCH_UP, "2026-12-08T10:00+00:00"),
        ("daily", CATCH_UP, "2026-12-08T10:00+00:00"),
    ]
    assert [(o.schedule, o.slot, o.status) for o in outcomes] == [
        ("weekly", at("2026-12-06T03:00Z"), "done"),
        ("monthly", at("2026-12-06T04:00Z"), "done"),
        ("daily", at("2026-12-08T02:00Z"), "done"),
    ]
    # Handled: looking again does not run them a second time.
    assert await harness.scheduler.run_once() == []
    assert len(harness.calls) == 3


async def test_catch_up_respects_the_horizon_and_never_opens_a_first_window_late(
    ctx: OpsContext, caplog: pytest.LogCaptureFixture
) -> None:
    schedules = load_schedules()
    schedules["daily"] = dataclasses.replace(schedules["daily"], catch_up_hours=6)
    await record_success(ctx, "daily", at("2026-12-06T02:10Z"))
    await record_success(ctx, "weekly", at("2026-11-29T03:10Z"))
    # Monday 10:00: daily's slot is 8 h old (horizon 6 h); weekly is within its week; monthly
    # and quarterly never succeeded and are not started at this random hour.
    harness = Harness(ctx, at("2026-12-07T10:00Z"), ZULU, schedules=schedules)
    with caplog.at_level(logging.INFO, logger="cv_evaluator.ops.scheduler"):
        await harness.scheduler.run_once()

    assert harness.calls == [("weekly", CATCH_UP, "2026-12-07T10:00+00:00")]
    events = {(r.__dict__.get("event"), r.__dict__.get("schedule")) for r in caplog.records}
    assert {("missed", "daily"), ("wait-first", "monthly"), ("wait-first", "quarterly")} <= events
    missed = next(r for r in caplog.records if r.__dict__.get("event") == "missed")
    assert "catch-up horizon (6 h)" in missed.getMessage()


async def test_a_slot_that_just_passed_runs_even_on_a_fresh_installation(ctx: OpsContext) -> None:
    # `maint scheduler --once` from a timer that fired five minutes late.
    harness = Harness(ctx, at("2026-12-08T02:05Z"), ZULU)
    await harness.scheduler.run_once()
    assert harness.calls == [("daily", SCHEDULED, "2026-12-08T02:05+00:00")]


async def test_a_long_sleep_of_the_host_is_caught_up_once(ctx: OpsContext) -> None:
    for name, finished in [
        ("daily", "2026-12-04T02:10Z"),
        ("weekly", "2026-11-29T03:10Z"),
        ("monthly", "2026-11-01T04:10Z"),
        ("quarterly", "2026-10-04T06:10Z"),
    ]:
        await record_success(ctx, name, at(finished))
    harness = Harness(ctx, at("2026-12-04T12:00Z"), ZULU, until=at("2026-12-07T01:45Z"))

    async def suspend() -> None:
        # Friday night the host is suspended until Monday 01:30 (one nap lasted two days).
        if harness.clock.now() == at("2026-12-05T01:00Z"):
            harness.clock.advance(timedelta(days=2, minutes=30).total_seconds())

    harness.on_nap.append(suspend)
    await harness.scheduler.run_forever()

    assert harness.calls == [
        ("daily", CATCH_UP, "2026-12-07T01:30+00:00"),
        ("weekly", CATCH_UP, "2026-12-07T01:30+00:00"),
        ("monthly", CATCH_UP, "2026-12-07T01:30+00:00"),
    ]


async def test_a_held_lock_defers_the_slot_until_it_is_free(ctx: OpsContext) -> None:
    harness = Harness(ctx, at("2026-12-08T01:59:30Z"), ZULU, until=at("2026-12-08T02:30Z"))
    other = MaintenanceLock(harness.ctx)
    lease = await other.acquire(MAINTENANCE_LOCK, "an operator's maint run", ttl=timedelta(hours=2))

    async def finish_other_run() -> None:
        if harness.clock.now() >= at("2026-12-08T02:10Z"):
            await other.release(lease)

    harness.on_nap.append(finish_other_run)
    await harness.scheduler.run_forever()

    # It waited in 30-second naps until the other run released the lock, then ran.
    assert harness.calls == [("daily", SCHEDULED, "2026-12-08T02:10+00:00")]
    assert await MaintenanceLock(harness.ctx).current(MAINTENANCE_LOCK) is None


async def test_a_slot_done_by_the_lock_holder_is_not_run_again(ctx: OpsContext) -> None:
    # Another scheduler (or an operator) held the lock because it was performing the same slot.
    harness = Harness(ctx, at("2026-12-08T02:00Z"), ZULU)
    other = MaintenanceLock(harness.ctx)
    lease = await other.acquire(MAINTENANCE_LOCK, "scheduler on host-b", ttl=timedelta(hours=2))

    released: list[bool] = []

    async def other_finishes() -> None:
        if harness.clock.now() >= at("2026-12-08T02:05Z") and not released:
            await record_success(harness.ctx, "daily", harness.clock.now())
            released.append(await other.release(lease))

    harness.on_nap.append(other_finishes)
    outcomes = await harness.scheduler.run_once()
    assert harness.calls == []
    assert [(o.schedule, o.status) for o in outcomes] == [("daily", "already-done")]


async def test_a_lock_held_past_the_wait_skips_the_slot_and_records_it(
    ctx: OpsContext, caplog: pytest.LogCaptureFixture
) -> None:
    harness = Harness(ctx, at("2026-12-08T02:00Z"), ZULU, lock_wait=timedelta(minutes=10))
    await MaintenanceLock(harness.ctx).acquire(
        MAINTENANCE_LOCK, "a stuck window", ttl=timedelta(hours=2)
    )
    with caplog.at_level(logging.INFO, logger="cv_evaluator.ops.scheduler"):
        outcomes = await harness.scheduler.run_once()

    assert harness.calls == []
    assert [(o.schedule, o.status) for o in outcomes] == [("daily", "skipped")]
    assert harness.clock.now() >= at("2026-12-08T02:10Z")
    entry = await MaintenanceLog(harness.ctx).latest(schedule="daily")
    assert entry is not None and entry.status == "skipped" and entry.kind == "run"
    assert "held by a stuck window" in entry.issues[0]["summary"]
    # A skipped slot is not a success, and it is not retried before the next slot.
    assert "daily" not in await MaintenanceLog(harness.ctx).last_successes()
    assert await harness.scheduler.run_once() == []
    assert [r.__dict__["event"] for r in caplog.records].count("lock-wait") == 1


async def test_stop_lets_the_current_procedure_finish_then_ends_the_loop(
    ctx: OpsContext,
) -> None:
    # Sunday 2026-12-06 03:00 UTC: weekly is due; the stop request arrives while it runs.
    harness = Harness(ctx, at("2026-12-06T02:59Z"), ZULU, minutes={"weekly": 30})

    async def stop_during(schedule: Schedule) -> None:
        harness.scheduler.stop()

    harness.on_execute.append(stop_during)
    await asyncio.wait_for(harness.scheduler.run_forever(), timeout=30)
    assert harness.calls == [("weekly", SCHEDULED, "2026-12-06T03:00+00:00")]
    # The lock went with it.
    assert await MaintenanceLock(harness.ctx).current(MAINTENANCE_LOCK) is None


async def test_stop_while_asleep_ends_the_loop_without_running(ctx: OpsContext) -> None:
    harness = Harness(ctx, at("2026-12-08T10:00Z"), ZULU)

    async def stop_soon() -> None:
        if len(harness.naps) == 3:
            harness.scheduler.stop()

    harness.on_nap.append(stop_soon)
    await asyncio.wait_for(harness.scheduler.run_forever(), timeout=30)
    assert harness.calls == [] and len(harness.naps) == 3


async def test_a_failing_procedure_is_logged_and_the_next_still_runs(
    ctx: OpsContext, caplog: pytest.LogCaptureFixture
) -> None:
    # Sunday 2026-12-06 (the first of the month): weekly 03:00 fails, monthly 04:00 still runs.
    harness = Harness(ctx, at("2026-12-06T02:59Z"), ZULU, until=at("2026-12-06T05:00Z"))

    async def explode(schedule: Schedule) -> None:
        if schedule.name == "weekly":
            raise RuntimeError("disk on fire")

    harness.on_execute.append(explode)
    with caplog.at_level(logging.INFO, logger="cv_evaluator.ops.scheduler"):
        await harness.scheduler.run_forever()

    assert [name for name, _, _ in harness.calls] == ["weekly", "monthly"]
    failed = [r for r in caplog.records if r.__dict__.get("event") == "failed"]
    assert len(failed) == 1 and "disk on fire" in failed[0].getMessage()
    # Every decision is one JSON line naming its event.
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert all("\n" not in line for line in lines)
    events = [json.loads(line)["event"] for line in lines]
    assert events[0] == "start" and events[-1] == "stopped"
    assert {"sleep", "due", "run", "done", "failed", "stop"} <= set(events)


async def test_no_timed_schedule_is_an_error(ctx: OpsContext) -> None:
    manual = Schedule("manual", 1.0, "", (), ())
    harness = Harness(ctx, at("2026-12-08T10:00Z"), ZULU, schedules={"manual": manual})
    with pytest.raises(Exception, match="nothing to schedule"):
        await harness.scheduler.run_forever()
