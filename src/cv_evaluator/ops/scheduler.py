"""`maint scheduler`: performs the schedules at their slots, one procedure at a time.

The loop: find the next slot of any schedule, sleep until then (in naps of at most a minute, so a
stop request or a clock jump is noticed), look at what is due, take the maintenance lock,
perform, repeat. Every decision is one log line with ``event`` and the schedule, slot and
trigger, so a log search answers "why did (or didn't) the weekly run on Sunday?".

What is due, per schedule, at time ``now`` (``slot`` = its latest slot at or before ``now``):

- nothing when the slot was already handled: performed (or skipped) by this process, or a run
  that succeeded at or after it is in the maintenance log;
- ``scheduled`` when the slot passed less than ``ON_TIME`` ago, or while this process was
  watching (it was busy with another procedure, or waited for the lock);
- ``catch-up`` when it passed longer ago (the scheduler was down, the host slept) but within
  the schedule's catch-up horizon (``catch_up_hours``, else one period) and the schedule has
  succeeded before. Several missed slots of one schedule make one run, not one per slot.
  A schedule that never succeeded is not caught up: starting the scheduler on a fresh
  installation must not open a maintenance window at a random hour; it waits for its slot.
- a missed slot beyond the horizon is logged and left to the next slot.

Several due schedules run one after the other, in the order of their slots (the longer period
first on a tie), each once: a quarterly run does not stand in for a missed monthly one, because
each schedule's own success is what `maint schedules` and the overdue alerts read, and their
tasks differ (only the daily schedule takes a backup, which then precedes a later retention).
"""

from __future__ import annotations

import asyncio
import logging
import time as _time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.errors import Conflict, InvalidArgument
from cv_evaluator.ops.calendar import last_slot, next_slot
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.lock import DEFAULT_TTL, MAINTENANCE_LOCK, MaintenanceLock, lock_holder
from cv_evaluator.ops.runs import MaintenanceLog
from cv_evaluator.ops.schedules import Schedule

log = logging.getLogger(__name__)

SCHEDULED = "scheduled"
CATCH_UP = "catch-up"
# A slot this recent is performed as scheduled, not as a catch-up: it covers the wake-up delay,
# a timer that fires a little late (`maint scheduler --once` from systemd) and a short lock wait.
ON_TIME = timedelta(minutes=15)
MAX_NAP_SECONDS = 60.0
LOCK_RETRY_SECONDS = 30.0

Execute = Callable[[Schedule, str], Awaitable[Any]]
Sleep = Callable[[float], Awaitable[None]]


class SchedulerLog(Protocol):
    """What the scheduler needs of the maintenance log."""

    async def last_successes(self) -> dict[str, datetime]: ...

    async def start(
        self, schedule: str, *, dry_run: bool, before: dict[str, Any], kind: str = "run"
    ) -> str: ...

    async def update(self, run_id: str, **values: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Due:
    schedule: Schedule
    slot: datetime
    trigger: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one due slot.

    ``done``; ``failed`` (the procedure raised); ``skipped`` (the lock stayed taken);
    ``already-done`` (a run that succeeded since the slot was found once the lock was ours).
    """

    schedule: str
    slot: datetime
    trigger: str
    status: str
    result: Any = None
    error: str | None = None


class MaintenanceScheduler:
    def __init__(
        self,
        ctx: OpsContext,
        schedules: Mapping[str, Schedule],
        execute: Execute,
        clock: Clock,
        sleep: Sleep,
        *,
        zone: ZoneInfo | None = None,
        lock: MaintenanceLock | None = None,
        maintenance_log: SchedulerLog | None = None,
        holder: str | None = None,
        lock_ttl: timedelta = DEFAULT_TTL,
        lock_wait: timedelta | None = None,
        lock_retry_seconds: float = LOCK_RETRY_SECONDS,
        max_nap_seconds: float = MAX_NAP_SECONDS,
        dry_run: bool = False,
    ) -> None:
        self._timed = [s for s in schedules.values() if s.timing is not None]
        self._untimed = [s.name for s in schedules.values() if s.timing is None]
        self._execute = execute
        self._clock = clock
        self._sleep = sleep
        self._zone = zone or ZoneInfo(ctx.settings.maint_scheduler_timezone)
        self._lock = lock or MaintenanceLock(ctx)
        self._log = maintenance_log or MaintenanceLog(ctx)
        self._holder = holder or lock_holder(ctx.actor)
        self._lock_ttl = lock_ttl
        self._lock_wait = (
            lock_wait
            if lock_wait is not None
            else timedelta(seconds=ctx.settings.maint_scheduler_lock_wait_seconds)
        )
        self._lock_retry = lock_retry_seconds
        self._max_nap = max_nap_seconds
        self._dry_run = dry_run
        self._stopping = asyncio.Event()
        # The latest slot of each schedule this process has dealt with (run, failed, skipped).
        self._handled: dict[str, datetime] = {}
        # Since when this process has been watching the clock without a gap: a slot after this
        # passed while it was awake (perhaps busy with another procedure) and is simply late.
        self._watching_since: datetime | None = None

    # --- control

    def stop(self) -> None:
        """Finish the procedure in progress, if any, then end the loop."""
        if not self._stopping.is_set():
            self._decide("stop", "stop requested: finishing the current procedure, if any")
        self._stopping.set()

    def stopping(self) -> bool:
        return self._stopping.is_set()

    # --- the loop

    async def run_forever(self) -> None:
        """Perform the schedules at their slots until ``stop()``."""
        if not self._timed:
            raise InvalidArgument("no schedule has a time (`at`): nothing to schedule")
        self._decide(
            "start",
            f"scheduler started in time zone {self._zone.key}",
            zone=self._zone.key,
            schedules={s.name: s.timing.describe() for s in self._timed if s.timing is not None},
            unscheduled=self._untimed,
            dry_run=self._dry_run,
        )
        announced: datetime | None = None
        while not self.stopping():
            performed = await self.run_once()
            if self.stopping():
                break
            if performed:
                continue  # time went by while they ran: look again before sleeping
            now = self._clock.now()
            target, names = self._next(now)
            if target != announced:
                announced = target
                self._decide(
                    "sleep",
                    f"next: {', '.join(names)} at {_local(target, self._zone)}",
                    next_slot=target.isoformat(),
                    schedules=names,
                )
            await self._sleep_until(target)
        self._decide("stopped", "scheduler stopped")

    async def run_once(self) -> list[Outcome]:
        """Perform whatever is due now (scheduled and catch-up), one after the other."""
        outcomes: list[Outcome] = []
        for due in await self.due(self._clock.now()):
            if self.stopping():
                break
            outcomes.append(await self._perform(due))
        return outcomes

    async def due(self, now: datetime) -> list[Due]:
        """What is due at ``now``, in the order it will run (see the module docstring)."""
        successes = await self._log.last_successes()
        if self._watching_since is None:
            self._watching_since = now
        found: list[Due] = []
        for schedule in self._timed:
            timing = schedule.timing
            assert timing is not None
            slot = last_slot(timing, now, self._zone)
            known = [self._handled.get(schedule.name)]
            success = successes.get(schedule.name)
            if success is not None:
                known.append(last_slot(timing, success, self._zone))
            baseline = max((k for k in known if k is not None), default=None)
            if baseline is not None and slot <= baseline:
                continue
            late = now - slot
            fields: dict[str, Any] = {"schedule": schedule.name, "slot": slot.isoformat()}
            if late <= ON_TIME or slot >= self._watching_since:
                found.append(Due(schedule, slot, SCHEDULED))
            elif baseline is None:
                self._handled[schedule.name] = slot
                self._decide(
                    "wait-first",
                    f"{schedule.name} never succeeded: not caught up, it first runs at "
                    f"{_local(next_slot(timing, now, self._zone), self._zone)}",
                    **fields,
                )
            elif late <= schedule.catch_up:
                found.append(Due(schedule, slot, CATCH_UP))
            else:
                self._handled[schedule.name] = slot
                self._decide(
                    "missed",
                    f"{schedule.name} missed its slot of {_local(slot, self._zone)}, more than "
                    f"its catch-up horizon ({_hours(schedule.catch_up)}) ago: left to the next "
                    f"slot at {_local(next_slot(timing, now, self._zone), self._zone)}",
                    last_success=success.isoformat() if success else None,
                    **fields,
                )
        found.sort(key=lambda d: (d.slot, -d.schedule.every_days, d.schedule.name))
        return found

    # --- one slot

    async def _perform(self, due: Due) -> Outcome:
        name, fields = due.schedule.name, _fields(due)
        self._decide(
            "due",
            f"{name} due ({due.trigger}) for its slot of {_local(due.slot, self._zone)}",
            window=due.schedule.window,
            **fields,
        )
        deadline = self._clock.now() + self._lock_wait
        waiting_logged = False
        while True:
            acquired = False
            started = _time.perf_counter()
            try:
                async with self._lock.hold(MAINTENANCE_LOCK, self._holder, ttl=self._lock_ttl):
                    acquired = True
                    if await self._done_meanwhile(due):
                        # Whoever held the lock (another scheduler, an operator) did it.
                        self._handled[name] = due.slot
                        self._decide(
                            "already-done", f"{name}: a run succeeded since the slot", **fields
                        )
                        return Outcome(name, due.slot, due.trigger, "already-done")
                    self._decide("run", f"{name}: lock taken, performing", **fields)
                    result = await self._execute(due.schedule, due.trigger)
            except Conflict as exc:
                if acquired:
                    return self._failed(due, exc, started)
                if self.stopping() or self._clock.now() >= deadline:
                    return await self._skip(due, exc)
                if not waiting_logged:
                    waiting_logged = True
                    self._decide(
                        "lock-wait",
                        f"{name}: {exc.message}; waiting up to {_hours(self._lock_wait)}",
                        holder=exc.details.get("holder"),
                        **fields,
                    )
                await self._nap(self._lock_retry)
                continue
            except Exception as exc:  # one failed procedure must not end the scheduler
                return self._failed(due, exc, started)
            self._handled[name] = due.slot
            status = getattr(result, "status", None)
            self._decide(
                "done",
                f"{name} finished: {status or 'done'}",
                status=status,
                run_id=getattr(result, "id", None),
                seconds=round(_time.perf_counter() - started, 3),
                **fields,
            )
            return Outcome(name, due.slot, due.trigger, "done", result=result)

    async def _done_meanwhile(self, due: Due) -> bool:
        timing = due.schedule.timing
        assert timing is not None
        success = (await self._log.last_successes()).get(due.schedule.name)
        return success is not None and last_slot(timing, success, self._zone) >= due.slot

    def _failed(self, due: Due, exc: Exception, started: float) -> Outcome:
        self._handled[due.schedule.name] = due.slot
        error = f"{type(exc).__name__}: {exc}"
        self._decide(
            "failed",
            f"{due.schedule.name} failed: {error}",
            level=logging.ERROR,
            error=error,
            seconds=round(_time.perf_counter() - started, 3),
            **_fields(due),
        )
        return Outcome(due.schedule.name, due.slot, due.trigger, "failed", error=error)

    async def _skip(self, due: Due, exc: Conflict) -> Outcome:
        """Give up on a slot the lock kept us from, and say so in the maintenance log."""
        self._handled[due.schedule.name] = due.slot
        reason = f"slot of {_local(due.slot, self._zone)} skipped ({due.trigger}): {exc.message}"
        self._decide(
            "skipped",
            f"{due.schedule.name}: {reason}",
            level=logging.WARNING,
            holder=exc.details.get("holder"),
            **_fields(due),
        )
        try:
            now = self._clock.now()
            run_id = await self._log.start(
                due.schedule.name,
                dry_run=self._dry_run,
                before={"slot": due.slot.isoformat(), "trigger": due.trigger},
                kind="window" if due.schedule.window else "run",
            )
            await self._log.update(
                run_id,
                status="skipped",
                finished_at=now,
                duration_seconds=0.0,
                issues=[{"source": "scheduler", "status": "skipped", "summary": reason}],
            )
        except Exception as error:  # the log line above already tells the story
            log.warning("could not record the skipped slot: %s", error)
        return Outcome(due.schedule.name, due.slot, due.trigger, "skipped", error=exc.message)

    # --- time

    def _next(self, now: datetime) -> tuple[datetime, list[str]]:
        slots = {}
        for schedule in self._timed:
            assert schedule.timing is not None
            slots[schedule.name] = next_slot(schedule.timing, now, self._zone)
        target = min(slots.values())
        return target, [name for name, slot in slots.items() if slot == target]

    async def _sleep_until(self, target: datetime) -> None:
        """Nap towards ``target``; return early on stop or when the clock jumps back."""
        while not self.stopping():
            before = self._clock.now()
            if before >= target:
                return
            step = min(self._max_nap, (target - before).total_seconds())
            await self._nap(step)
            after = self._clock.now()
            if after - before > timedelta(seconds=step + self._max_nap):
                # The host slept (suspend, a stopped VM) or the clock was stepped forward: slots
                # passed meanwhile were missed, not merely delayed, and are caught up as such.
                self._watching_since = after
                self._decide(
                    "clock-jump",
                    f"clock moved {(after - before).total_seconds():.0f} s during a "
                    f"{step:.0f} s nap: looking for missed slots",
                )
                return
            if after < before:
                # Stepped back (NTP, manual change): re-plan from the new time.
                self._decide(
                    "clock-jump",
                    f"clock went back by {(before - after).total_seconds():.0f} s: re-planning",
                )
                return

    async def _nap(self, seconds: float) -> None:
        if self.stopping():
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        _done, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _decide(
        self, event: str, message: str, *, level: int = logging.INFO, **fields: Any
    ) -> None:
        log.log(level, message, extra={"event": event, **fields})


def _fields(due: Due) -> dict[str, Any]:
    return {"schedule": due.schedule.name, "slot": due.slot.isoformat(), "trigger": due.trigger}


def _local(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M %Z")
    if zone.key != "UTC":
        text += f" ({instant.astimezone(UTC).strftime('%H:%M UTC')})"
    return text


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 48 else f"{hours:g} h"
