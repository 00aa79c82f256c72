"""`maint window run`: a schedule performed as a maintenance window, recorded step by step.

pre-flight → maintenance mode on → drain → the schedule's tasks → verify (health, readiness,
smoke test through the bypass token) → mode off → monitor. The window decides at every failure
whether the service is safe to reopen: it is when nothing was changed yet or when verification
passed; it is not when verification failed or the window was interrupted half-way, and then the
mode stays on, without an end, with a reason that says what to do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cv_evaluator.ops.backup import create_backup, verify_backup
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.figures import figures
from cv_evaluator.ops.model import CheckReport, Status, TaskResult
from cv_evaluator.ops.probe import Probe, ProbeResult, RequestCounts
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_checks
from cv_evaluator.ops.runs import (
    FAILED,
    MaintenanceLog,
    MaintenanceRun,
    issues_of,
    overall_status,
    run_task,
)
from cv_evaluator.ops.schedules import Schedule
from cv_evaluator.service.maintenance import MaintenanceService

Sleep = Callable[[float], Awaitable[None]]

# Every instance re-reads the mode at least once a second; waiting two makes sure all have.
PROPAGATION_SECONDS = 2.0
DRAIN_POLL_SECONDS = 1.0
# Pre-flight refuses to start on these when CRITICAL (and on long transactions when not OK):
# a window that starts on a full disk or behind a stuck transaction makes things worse.
PREFLIGHT_CHECKS = ("service.disk", "postgres.long_queries", "postgres.blocked_queries")
MUST_BE_CLEAN = ("postgres.long_queries",)
MONITOR_CHECKS = ("queue.depth", "queue.oldest", "kafka.consumer_lag")


class StepStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAILED = "failed"
    SKIPPED = "skipped"
    PLANNED = "planned"


class ModeOutcome(StrEnum):
    NEVER_SET = "never set"
    CLEARED = "cleared"
    LEFT_ON = "left on"
    PLANNED = "planned"


@dataclass(slots=True)
class Step:
    name: str
    status: StepStatus
    summary: str
    started_at: datetime
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 2),
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class WindowOptions:
    monitor_minutes: int
    dry_run: bool
    max_minutes: float
    drain_timeout_seconds: float
    smoke_timeout_seconds: float
    monitor_interval_seconds: float
    error_rate_warn: float

    @classmethod
    def from_settings(
        cls, ctx: OpsContext, *, monitor_minutes: int, dry_run: bool
    ) -> WindowOptions:
        s = ctx.settings
        return cls(
            monitor_minutes=monitor_minutes,
            dry_run=dry_run,
            max_minutes=s.maint_window_max_minutes,
            drain_timeout_seconds=s.maint_window_drain_timeout_seconds,
            smoke_timeout_seconds=s.maint_window_smoke_timeout_seconds,
            monitor_interval_seconds=s.maint_window_monitor_interval_seconds,
            error_rate_warn=s.maint_window_error_rate_warn,
        )


class WindowAborted(Exception):
    """A step failed; the procedure stops and the mode is settled by the caller."""


class MaintenanceWindow:
    def __init__(
        self,
        ctx: OpsContext,
        schedule: Schedule,
        *,
        mode: MaintenanceService,
        probe: Probe,
        options: WindowOptions,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._ctx = ctx
        self._schedule = schedule
        self._mode = mode
        self._probe = probe
        self._options = options
        self._sleep = sleep
        self._log = MaintenanceLog(ctx)
        self._run_id = ""
        self._steps: list[Step] = []
        self._tasks: list[TaskResult] = []
        self._report: CheckReport | None = None
        self._monitor: list[dict[str, Any]] = []
        self._issues: list[dict[str, Any]] = []
        self._mode_outcome = ModeOutcome.NEVER_SET
        self._mode_note = "maintenance mode was not set: the service stayed open"
        self._mode_is_ours = False
        self._token: str | None = None

    @property
    def _actor(self) -> str:
        return self._ctx.actor

    async def run(self) -> MaintenanceRun:
        started = time.perf_counter()
        self._run_id = await self._log.start(
            self._schedule.name,
            dry_run=self._options.dry_run,
            before=await figures(self._ctx),
            kind="window",
        )
        failed = False
        try:
            try:
                await self._procedure()
            except WindowAborted:
                failed = True
        except BaseException as exc:
            # Interrupted (Ctrl-C, SIGTERM, a crash): the tasks may be half-done, so the service
            # stays closed and the log says so instead of "running" forever.
            await asyncio.shield(self._interrupted(exc, started))
            raise
        status = self._status(failed)
        await self._log.update(
            self._run_id,
            status=status,
            finished_at=self._ctx.clock.now(),
            duration_seconds=round(time.perf_counter() - started, 3),
            after=await figures(self._ctx),
            **self._record(),
        )
        return await self._log.get(self._run_id)

    # --------------------------------------------------------------------------- procedure

    async def _procedure(self) -> None:
        await self._preflight()
        if self._options.dry_run:
            await self._plan()
            return
        await self._mode_on()
        await self._drain()
        await self._perform_tasks()
        await self._verify()
        await self._mode_off(f"maintenance window {self._run_id} verified")
        await self._post_checks()
        await self._watch()

    async def _preflight(self) -> None:
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        problems: list[str] = []
        details: dict[str, Any] = {}
        health, ready = await self._probe.health(), await self._probe.readiness()
        details["health"], details["readiness"] = health.as_dict(), ready.as_dict()
        problems += [r.summary for r in (health, ready) if not r.ok]
        state = await self._mode.status()
        if state["enabled"]:
            problems.append(
                f"maintenance mode is already on ({state['reason']}, by {state['started_by']}): "
                "another maintenance is under way"
            )
        report = await run_checks(self._ctx, select_checks(only=PREFLIGHT_CHECKS))
        details["checks"] = report.as_dict()["checks"]
        for result in report.results:
            clean = result.status in (Status.OK, Status.SKIPPED)
            if result.status is Status.CRITICAL or (result.check in MUST_BE_CLEAN and not clean):
                problems.append(f"{result.check}: {result.summary}")
        backup_note = await self._backup(problems, details)
        if problems:
            await self._step(
                "pre-flight", StepStatus.FAILED, "; ".join(problems), begun, clock, details
            )
            raise WindowAborted
        summary = f"service healthy and ready, checks clear; {backup_note}"
        await self._step("pre-flight", StepStatus.OK, summary, begun, clock, details)

    async def _backup(self, problems: list[str], details: dict[str, Any]) -> str:
        """A verified backup younger than MAINT_BACKUP_MAX_AGE_HOURS, or take one now."""
        age = (await run_checks(self._ctx, select_checks(only=["backup.age"]))).results[0]
        details["backup_age"] = age.as_dict()
        if age.status is Status.OK:
            return age.summary
        if self._options.dry_run:
            return f"{age.summary}; a backup would be taken and verified now"
        backup = await create_backup(self._ctx, reason=f"window {self._run_id}")
        verification = await verify_backup(self._ctx, backup.id)
        details["backup_taken"] = {"id": backup.id, **verification.as_dict()}
        if not verification.ok:
            problems.append(
                f"the backup {backup.id} taken before the window failed verification: "
                + "; ".join(verification.problems[:3])
            )
            return f"backup {backup.id} failed verification"
        return f"backup {backup.id} taken and verified (restore {verification.rto_seconds} s)"

    async def _plan(self) -> None:
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        ends = clock + timedelta(minutes=self._options.max_minutes)
        await self._step(
            "maintenance mode",
            StepStatus.PLANNED,
            f"would refuse new work until {ends.isoformat(timespec='minutes')} at the latest, "
            f"wait up to {self._options.drain_timeout_seconds:g} s for jobs in flight "
            f"(now {await self._mode.in_flight()})",
            begun,
            clock,
        )
        self._mode_outcome = ModeOutcome.PLANNED
        self._mode_note = "dry run: maintenance mode was not touched"
        for spec in self._schedule.task_specs():
            self._tasks.append(await run_task(self._ctx, spec, dry_run=True))
        await self._step(
            "verify",
            StepStatus.PLANNED,
            "would check health and readiness and run the smoke test with the bypass token",
            begun,
            clock,
        )
        await self._step(
            "monitor",
            StepStatus.PLANNED,
            f"would watch the service for {self._options.monitor_minutes} intervals of "
            f"{self._options.monitor_interval_seconds:g} s",
            begun,
            clock,
        )

    async def _mode_on(self) -> None:
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        ends = clock + timedelta(minutes=self._options.max_minutes)
        reason = (
            f"scheduled {self._schedule.name} maintenance (window {self._run_id}), "
            f"until {ends.isoformat(timespec='minutes')} at the latest"
        )
        _state, self._token = await self._mode.start(
            reason=reason, actor=self._actor, until=ends, bypass=True
        )
        self._mode_is_ours = True
        self._mode_outcome = ModeOutcome.LEFT_ON
        self._mode_note = "maintenance mode is on (the window has not finished)"
        await self._sleep(PROPAGATION_SECONDS)
        await self._step("maintenance mode", StepStatus.OK, f"on: {reason}", begun, clock)

    async def _drain(self) -> None:
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        deadline = time.monotonic() + self._options.drain_timeout_seconds
        first = in_flight = await self._mode.in_flight()
        while in_flight > 0 and time.monotonic() < deadline:
            await self._sleep(DRAIN_POLL_SECONDS)
            in_flight = await self._mode.in_flight()
        details = {"in_flight_at_start": first, "in_flight_at_end": in_flight}
        if in_flight > 0:
            summary = (
                f"{in_flight} job(s) still in flight after "
                f"{self._options.drain_timeout_seconds:g} s (MAINT_WINDOW_DRAIN_TIMEOUT_SECONDS)"
            )
            await self._step("drain", StepStatus.FAILED, summary, begun, clock, details)
            # Nothing has been changed yet: reopening is safe.
            await self._mode_off(f"maintenance window {self._run_id} gave up: {summary}")
            raise WindowAborted
        summary = f"{first} job(s) in flight finished" if first else "no job was in flight"
        await self._step("drain", StepStatus.OK, summary, begun, clock, details)

    async def _perform_tasks(self) -> None:
        for spec in self._schedule.task_specs():
            self._tasks.append(await run_task(self._ctx, spec, dry_run=False))
            await self._save()

    async def _verify(self) -> None:
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        # The smoke job must be processed while the public is still refused.
        await self._mode.set_workers_paused(
            False, actor=self._actor, reason=f"window {self._run_id}: verification"
        )
        await self._sleep(PROPAGATION_SECONDS)
        health, ready = await self._probe.health(), await self._probe.readiness()
        smoke: ProbeResult | None = None
        if health.ok and ready.ok:
            smoke = await self._probe.smoke_test(
                bypass_token=self._token,
                idempotency_key=f"maintenance-smoke-{self._run_id}",
                timeout_seconds=self._options.smoke_timeout_seconds,
            )
        details: dict[str, Any] = {
            "health": health.as_dict(),
            "readiness": ready.as_dict(),
            "smoke_test": smoke.as_dict() if smoke else None,
        }
        failures = [r.summary for r in (health, ready, smoke) if r is not None and not r.ok]
        if failures:
            summary = "; ".join(failures)
            await self._step("verify", StepStatus.FAILED, summary, begun, clock, details)
            await self._keep_closed(f"failed verification: {summary}")
            raise WindowAborted
        assert smoke is not None
        await self._step(
            "verify", StepStatus.OK, f"healthy, ready; {smoke.summary}", begun, clock, details
        )

    async def _post_checks(self) -> None:
        """The schedule's checks: the post-maintenance status, taken once the service is open.

        They report (a dependency audit may wait on the network for seconds); they do not decide
        whether to reopen, so they do not lengthen the time the service is closed.
        """
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        self._report = await run_checks(self._ctx, self._schedule.check_specs())
        counts = self._report.as_dict()["counts"]
        shown = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        status = (
            StepStatus.OK if self._report.status in (Status.OK, Status.SKIPPED) else StepStatus.WARN
        )
        await self._step(
            "post-maintenance checks",
            status,
            f"{self._report.status.value}: {shown or 'no check'}",
            begun,
            clock,
        )

    async def _mode_off(self, reason: str) -> None:
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        await self._mode.stop(actor=self._actor, reason=reason)
        self._mode_is_ours = False
        self._mode_outcome = ModeOutcome.CLEARED
        self._mode_note = f"maintenance mode cleared: {reason}"
        await self._step("reopen", StepStatus.OK, self._mode_note, begun, clock)

    async def _keep_closed(self, why: str) -> None:
        """The system may be unsafe: closed with no end, so it cannot reopen by itself."""
        reason = (
            f"maintenance window {self._run_id} ({self._schedule.name}) {why}. The service stays "
            "closed until an operator has looked (`cv-evaluator maint report --run "
            f"{self._run_id}`) and runs `cv-evaluator maint mode stop`"
        )[:500]
        await self._mode.start(reason=reason, actor=self._actor)
        self._mode_is_ours = False
        self._mode_outcome = ModeOutcome.LEFT_ON
        self._mode_note = f"maintenance mode LEFT ON, without an end: {reason}"

    async def _watch(self) -> None:
        minutes = self._options.monitor_minutes
        if minutes <= 0:
            return
        begun, clock = time.perf_counter(), self._ctx.clock.now()
        # Until every instance has seen the mode go off, some still answer 503 MAINTENANCE:
        # expected refusals, not errors, so they stay out of the baseline's interval.
        await self._sleep(PROPAGATION_SECONDS)
        counts = await self._probe.request_counts()
        failures = 0
        for minute in range(1, minutes + 1):
            await self._sleep(self._options.monitor_interval_seconds)
            entry, counts = await self._look(minute, counts)
            self._monitor.append(entry)
            if entry["problems"]:
                failures += 1
                self._issues.append(
                    {
                        "source": f"monitor minute {minute}",
                        "status": entry["status"],
                        "summary": "; ".join(entry["problems"]),
                    }
                )
            await self._save()
        status = StepStatus.OK if failures == 0 else StepStatus.FAILED
        summary = (
            f"{minutes} interval(s) watched, no problem"
            if failures == 0
            else f"{failures} of {minutes} interval(s) had problems: "
            + ", ".join(str(m["minute"]) for m in self._monitor if m["problems"])
        )
        await self._step("monitor", status, summary, begun, clock)

    async def _look(
        self, minute: int, previous: RequestCounts | None
    ) -> tuple[dict[str, Any], RequestCounts | None]:
        health, ready = await self._probe.health(), await self._probe.readiness()
        counts = await self._probe.request_counts()
        rate = counts.error_rate_since(previous) if counts is not None else None
        queue = await run_checks(self._ctx, select_checks(only=MONITOR_CHECKS))
        problems = [r.summary for r in (health, ready) if not r.ok]
        status = "critical" if problems else "ok"
        if rate is not None and rate > self._options.error_rate_warn:
            problems.append(
                f"{rate:.1%} of HTTP answers were 5xx (MAINT_WINDOW_ERROR_RATE_WARN "
                f"{self._options.error_rate_warn:.0%})"
            )
            status = "critical" if status == "critical" else "warn"
        for result in queue.results:
            if result.status in (Status.WARN, Status.CRITICAL):
                problems.append(f"{result.check}: {result.summary}")
                if result.status is Status.CRITICAL:
                    status = "critical"
                elif status == "ok":
                    status = "warn"
        entry = {
            "minute": minute,
            "at": self._ctx.clock.now().isoformat(),
            "status": status,
            "health": health.ok,
            "readiness": ready.ok,
            "error_rate": None if rate is None else round(rate, 4),
            "queue": {r.check: r.status.value for r in queue.results},
            "problems": problems,
        }
        return entry, counts if counts is not None else previous

    # --------------------------------------------------------------------------- record

    async def _step(
        self,
        name: str,
        status: StepStatus,
        summary: str,
        begun: float,
        started_at: datetime,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._steps.append(
            Step(name, status, summary, started_at, time.perf_counter() - begun, details or {})
        )
        if status is StepStatus.FAILED:
            self._issues.append({"source": f"step {name}", "status": "failed", "summary": summary})
        await self._save()

    def _record(self) -> dict[str, Any]:
        checks: dict[str, Any] = self._report.as_dict() if self._report else {}
        checks["window"] = {
            "steps": [s.as_dict() for s in self._steps],
            "mode": self._mode_outcome.value,
            "mode_note": self._mode_note,
            "monitor": self._monitor,
        }
        return {
            "tasks": [t.as_dict() for t in self._tasks],
            "checks": checks,
            "issues": [*self._issues, *issues_of(self._tasks, self._report)],
        }

    async def _save(self) -> None:
        await self._log.update(self._run_id, **self._record())

    def _status(self, failed: bool) -> str:
        checked = overall_status(self._tasks, self._report)
        if failed or checked == FAILED:
            return FAILED
        levels = [checked, *(str(m["status"]) for m in self._monitor)]
        order = ("ok", "warn", "unknown", "critical")
        return max(levels, key=order.index)

    async def _interrupted(self, exc: BaseException, started: float) -> None:
        why = f"was interrupted ({type(exc).__name__}) before it finished"
        self._issues.append({"source": "window", "status": "failed", "summary": why})
        if self._mode_is_ours:
            try:
                await self._keep_closed(why)
            except Exception as inner:  # the log entry below must still be written
                self._mode_note = f"maintenance mode state unknown: {inner!r}"
        await self._log.update(
            self._run_id,
            status=FAILED,
            finished_at=self._ctx.clock.now(),
            duration_seconds=round(time.perf_counter() - started, 3),
            **self._record(),
        )
