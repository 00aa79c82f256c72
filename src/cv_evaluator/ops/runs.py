"""`maint run`: a schedule's tasks then its checks, recorded in the maintenance log as it goes.

The log row is written before the first task and updated after each one, so a run that crashes
or is killed half-way is still on record with what it had done.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from cv_evaluator.domain.errors import NotFound
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.figures import figures
from cv_evaluator.ops.model import CheckReport, Status, TaskResult, TaskStatus
from cv_evaluator.ops.registry import TaskSpec
from cv_evaluator.ops.runner import run_checks
from cv_evaluator.ops.schedules import Schedule
from cv_evaluator.storage.tables import maintenance_runs

RUNNING = "running"
FAILED = "failed"
# A run "succeeded" when every task did its work and nothing was CRITICAL afterwards; an
# UNKNOWN (e.g. the advisory service unreachable) or a WARN is reported but does not undo it.
SUCCESSFUL_STATUSES = ("ok", "warn", "unknown")
# Entries that performed a schedule's procedure; a "notification" entry only announced one.
PROCEDURE_KINDS = ("run", "window")


@dataclass(frozen=True, slots=True)
class MaintenanceRun:
    id: str
    kind: str
    schedule: str
    actor: str
    host: str
    dry_run: bool
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    tasks: list[dict[str, Any]]
    checks: dict[str, Any]
    issues: list[dict[str, Any]]
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def exit_code(self) -> int:
        if self.status == FAILED:
            return 2
        return {"ok": 0, "warn": 1, "critical": 2, "unknown": 3}.get(self.status, 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "schedule": self.schedule,
            "actor": self.actor,
            "host": self.host,
            "dry_run": self.dry_run,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_seconds": self.duration_seconds,
            "tasks": self.tasks,
            "checks": self.checks,
            "issues": self.issues,
            "before": self.before,
            "after": self.after,
        }


class MaintenanceLog:
    """The `maintenance_runs` table."""

    def __init__(self, ctx: OpsContext) -> None:
        self._ctx = ctx

    async def start(
        self, schedule: str, *, dry_run: bool, before: dict[str, Any], kind: str = "run"
    ) -> str:
        """Record the start of a ``run`` (tasks), a ``window`` or a ``notification``."""
        run_id = new_id(IdKind.MAINTENANCE_RUN)
        async with self._ctx.engine.begin() as connection:
            await connection.execute(
                insert(maintenance_runs).values(
                    id=run_id,
                    kind=kind,
                    schedule=schedule,
                    actor=self._ctx.actor,
                    host=socket.gethostname(),
                    dry_run=dry_run,
                    status=RUNNING,
                    started_at=self._ctx.clock.now(),
                    tasks=[],
                    checks={},
                    issues=[],
                    before=before,
                    after={},
                )
            )
        return run_id

    async def update(self, run_id: str, **values: Any) -> None:
        async with self._ctx.engine.begin() as connection:
            await connection.execute(
                update(maintenance_runs).where(maintenance_runs.c.id == run_id).values(**values)
            )

    async def get(self, run_id: str) -> MaintenanceRun:
        async with self._ctx.engine.begin() as connection:
            row = (
                await connection.execute(
                    select(maintenance_runs).where(maintenance_runs.c.id == run_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no maintenance run {run_id!r}")
        return _run(row._mapping)

    async def since(
        self, since: datetime, *, schedule: str | None = None, kind: str | None = None
    ) -> list[MaintenanceRun]:
        query = select(maintenance_runs).where(maintenance_runs.c.started_at >= since)
        if schedule is not None:
            query = query.where(maintenance_runs.c.schedule == schedule)
        if kind is not None:
            query = query.where(maintenance_runs.c.kind == kind)
        async with self._ctx.engine.begin() as connection:
            rows = (await connection.execute(query.order_by(maintenance_runs.c.started_at))).all()
        return [_run(row._mapping) for row in rows]

    async def latest(
        self, *, schedule: str | None = None, kind: str | None = None
    ) -> MaintenanceRun | None:
        query = select(maintenance_runs)
        if schedule is not None:
            query = query.where(maintenance_runs.c.schedule == schedule)
        if kind is not None:
            query = query.where(maintenance_runs.c.kind == kind)
        query = query.order_by(maintenance_runs.c.started_at.desc()).limit(1)
        async with self._ctx.engine.begin() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _run(row._mapping)

    async def last_successes(self) -> dict[str, datetime]:
        """When each schedule last finished successfully (dry runs do not count)."""
        query = (
            select(maintenance_runs.c.schedule, maintenance_runs.c.finished_at)
            .where(maintenance_runs.c.kind.in_(PROCEDURE_KINDS))
            .where(maintenance_runs.c.status.in_(SUCCESSFUL_STATUSES))
            .where(maintenance_runs.c.dry_run.is_(False))
            .where(maintenance_runs.c.finished_at.is_not(None))
        )
        latest: dict[str, datetime] = {}
        async with self._ctx.engine.begin() as connection:
            for schedule, finished in (await connection.execute(query)).all():
                if schedule not in latest or finished > latest[schedule]:
                    latest[schedule] = finished
        return latest


def _run(row: Any) -> MaintenanceRun:
    return MaintenanceRun(
        id=row["id"],
        kind=row["kind"],
        schedule=row["schedule"],
        actor=row["actor"],
        host=row["host"],
        dry_run=bool(row["dry_run"]),
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_seconds=row["duration_seconds"],
        tasks=list(row["tasks"]),
        checks=dict(row["checks"]),
        issues=list(row["issues"]),
        before=dict(row["before"]),
        after=dict(row["after"]),
    )


async def run_task(ctx: OpsContext, spec: TaskSpec, *, dry_run: bool) -> TaskResult:
    started_at = ctx.clock.now()
    started = time.perf_counter()
    reason = spec.applies(ctx)
    if reason is not None:
        return TaskResult(
            spec.name,
            TaskStatus.SKIPPED,
            f"does not apply: {reason}",
            {},
            (),
            started_at,
            (time.perf_counter() - started) * 1000,
        )
    try:
        outcome = await spec.run(ctx, dry_run)
    except Exception as exc:  # one failed task is recorded; the run goes on with the others
        return TaskResult(
            spec.name,
            TaskStatus.FAILED,
            f"failed: {type(exc).__name__}: {exc}",
            {},
            (),
            started_at,
            (time.perf_counter() - started) * 1000,
            error=type(exc).__name__,
        )
    return TaskResult(
        spec.name,
        outcome.status,
        outcome.summary,
        outcome.figures,
        outcome.actions,
        started_at,
        (time.perf_counter() - started) * 1000,
    )


def issues_of(tasks: Sequence[TaskResult], report: CheckReport | None) -> list[dict[str, Any]]:
    """The failed tasks and the checks that were not OK, as the log's ``issues``."""
    issues: list[dict[str, Any]] = [
        {"source": f"task {t.task}", "status": t.status.value, "summary": t.summary}
        for t in tasks
        if t.status is TaskStatus.FAILED
    ]
    if report is not None:
        issues += [
            {"source": f"check {r.check}", "status": r.status.value, "summary": r.summary}
            for r in report.results
            if r.status in (Status.WARN, Status.CRITICAL, Status.UNKNOWN)
        ]
    return issues


def overall_status(tasks: Sequence[TaskResult], report: CheckReport | None) -> str:
    if any(t.status is TaskStatus.FAILED for t in tasks):
        return FAILED
    if report is None:
        return "ok"
    return report.status.value.lower() if report.status is not Status.SKIPPED else "ok"


async def run_schedule(ctx: OpsContext, schedule: Schedule, *, dry_run: bool) -> MaintenanceRun:
    """Perform the schedule's tasks in order, then its checks (the post-maintenance status)."""
    log = MaintenanceLog(ctx)
    task_specs, check_specs = schedule.task_specs(), schedule.check_specs()
    run_id = await log.start(schedule.name, dry_run=dry_run, before=await figures(ctx))
    started = time.perf_counter()
    done: list[TaskResult] = []
    report: CheckReport | None = None
    status = FAILED
    try:
        for spec in task_specs:
            done.append(await run_task(ctx, spec, dry_run=dry_run))
            await log.update(
                run_id, tasks=[t.as_dict() for t in done], issues=issues_of(done, None)
            )
        report = await run_checks(ctx, check_specs)
        status = overall_status(done, report)
    except BaseException as exc:
        # Interrupted (Ctrl-C, SIGTERM, a crash): the row says so instead of "running" forever.
        done_issue = {"source": "run", "status": "failed", "summary": f"interrupted: {exc!r}"}
        await asyncio.shield(
            log.update(
                run_id,
                status=FAILED,
                finished_at=ctx.clock.now(),
                duration_seconds=round(time.perf_counter() - started, 3),
                issues=[*issues_of(done, report), done_issue],
            )
        )
        raise
    await log.update(
        run_id,
        status=status,
        finished_at=ctx.clock.now(),
        duration_seconds=round(time.perf_counter() - started, 3),
        checks=report.as_dict(),
        issues=issues_of(done, report),
        after=await figures(ctx),
    )
    return await log.get(run_id)
