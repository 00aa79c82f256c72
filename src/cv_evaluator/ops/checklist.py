"""`maint checklist pre|post`: the runbook's checklists, each item evaluated where a machine can.

An item is ``done`` or ``failed`` when the system can tell (backup age, health, the mode, the last
window, notifications on record), ``warn`` when it can tell something is off but not blocking,
and ``manual`` when only a person can tick it (a change approved, people on call).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import Status
from cv_evaluator.ops.probe import Probe
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_checks
from cv_evaluator.ops.runs import SUCCESSFUL_STATUSES, MaintenanceLog, MaintenanceRun
from cv_evaluator.service.maintenance import MaintenanceService

# Users should hear of a window at least a day ahead; a notice older than a week is stale.
NOTICE_FRESH_FOR = timedelta(days=7)

PRE_MANUAL = (
    "The change is approved and the window agreed with the people who use the service",
    "Someone who can restore the database is on call for the window and the hour after",
    "The rollback plan for this window is written down (which backup, which commands)",
)
POST_MANUAL = (
    "A recruiter has opened a recent result and it reads as expected",
    "The change ticket is closed with a link to the window's report",
)


class ItemStatus(StrEnum):
    DONE = "done"
    WARN = "warn"
    FAILED = "failed"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    status: ItemStatus
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.text, "status": self.status.value, "evidence": self.evidence}


async def _latest_notice(
    log: MaintenanceLog, ctx: OpsContext, notice: str
) -> MaintenanceRun | None:
    """The newest ``announcement`` or ``completion`` notice on record (last 90 days)."""
    recent = await log.since(ctx.clock.now() - timedelta(days=90), kind="notification")
    sent = [r for r in recent if r.before.get("notice") == notice]
    return sent[-1] if sent else None


def exit_code(items: Sequence[Item]) -> int:
    """0 when everything a machine can check is done, 1 on a warning, 2 on a failure."""
    if any(i.status is ItemStatus.FAILED for i in items):
        return 2
    return 1 if any(i.status is ItemStatus.WARN for i in items) else 0


def _check_item(text: str, status: Status, summary: str) -> Item:
    if status in (Status.OK, Status.SKIPPED):
        return Item(text, ItemStatus.DONE, summary)
    return Item(text, ItemStatus.FAILED if status is Status.CRITICAL else ItemStatus.WARN, summary)


async def _service_items(probe: Probe) -> list[Item]:
    health, ready = await probe.health(), await probe.readiness()
    return [
        Item(
            "The service answers /healthz and /readyz",
            ItemStatus.DONE if health.ok and ready.ok else ItemStatus.FAILED,
            f"{health.summary}; {ready.summary}",
        )
    ]


async def pre_checklist(ctx: OpsContext, probe: Probe, mode: MaintenanceService) -> list[Item]:
    log = MaintenanceLog(ctx)
    now = ctx.clock.now()
    items: list[Item] = []
    notice = await _latest_notice(log, ctx, "announcement")
    if notice is None:
        items.append(
            Item(
                "Users were notified of the window",
                ItemStatus.WARN,
                "no notification on record: `cv-evaluator maint notify --schedule … --start … "
                "--end …`",
            )
        )
    else:
        age = now - notice.started_at
        fresh = age <= NOTICE_FRESH_FOR and notice.status != "failed"
        items.append(
            Item(
                "Users were notified of the window",
                ItemStatus.DONE if fresh else ItemStatus.WARN,
                f"notification {notice.id} for {notice.schedule} sent "
                f"{notice.started_at.isoformat(timespec='minutes')} ({notice.status})"
                + ("" if fresh else ": older than 7 days or not delivered, send a new one"),
            )
        )
    checks = await run_checks(
        ctx,
        select_checks(only=["backup.age", "service.disk", "postgres.long_queries"]),
    )
    labels = {
        "backup.age": "A verified backup younger than MAINT_BACKUP_MAX_AGE_HOURS exists",
        "service.disk": "There is enough free disk for the window's tasks and a backup",
        "postgres.long_queries": "No long-running transaction would block the window's tasks",
    }
    items += [_check_item(labels[r.check], r.status, r.summary) for r in checks.results]
    items += await _service_items(probe)
    status = await mode.status()
    running = [r for r in await log.since(now - timedelta(days=1)) if r.status == "running"]
    items.append(
        Item(
            "No other maintenance is under way",
            ItemStatus.FAILED if status["enabled"] or running else ItemStatus.DONE,
            (f"maintenance mode is ON: {status['reason']}; " if status["enabled"] else "")
            + (
                f"{len(running)} run(s) still running: {', '.join(r.id for r in running)}"
                if running
                else "no run in progress, maintenance mode off"
                if not status["enabled"]
                else ""
            ),
        )
    )
    items += [Item(text, ItemStatus.MANUAL, "for a person to confirm") for text in PRE_MANUAL]
    return items


async def post_checklist(ctx: OpsContext, probe: Probe, mode: MaintenanceService) -> list[Item]:
    log = MaintenanceLog(ctx)
    items: list[Item] = []
    status = await mode.status()
    items.append(
        Item(
            "Maintenance mode is off",
            ItemStatus.FAILED if status["enabled"] else ItemStatus.DONE,
            f"ON: {status['reason']}" if status["enabled"] else "off",
        )
    )
    items += await _service_items(probe)
    window = await log.latest(kind="window")
    if window is None:
        items.append(
            Item("The last maintenance window succeeded", ItemStatus.WARN, "no window on record")
        )
    else:
        steps = {s["step"]: s for s in window.checks.get("window", {}).get("steps", [])}
        verify = steps.get("verify", {})
        succeeded = window.status in SUCCESSFUL_STATUSES
        items.append(
            Item(
                "The last maintenance window succeeded and its smoke test passed",
                ItemStatus.DONE
                if succeeded and verify.get("status") == "ok"
                else ItemStatus.FAILED,
                f"window {window.id} ({window.schedule}) {window.status}; verify: "
                f"{verify.get('summary', 'not reached')}",
            )
        )
    queue = await run_checks(ctx, select_checks(only=["queue.*", "kafka.consumer_lag"]))
    worst = queue.status
    items.append(
        _check_item(
            "The queue is draining (no backlog or lag left by the window)",
            worst,
            "; ".join(
                f"{r.check}: {r.summary}" for r in queue.results if r.status is not Status.SKIPPED
            )
            or "no queue check applies",
        )
    )
    notice = await _latest_notice(log, ctx, "completion")
    done = (
        window is not None
        and notice is not None
        and notice.started_at >= window.started_at
        and notice.status != "failed"
    )
    items.append(
        Item(
            "Users were told the window is over",
            ItemStatus.DONE if done else ItemStatus.WARN,
            f"notification {notice.id} sent {notice.started_at.isoformat(timespec='minutes')}"
            if done and notice is not None
            else "no notification after the last window: `cv-evaluator maint notify --completion "
            "--run <window id>`",
        )
    )
    items += [Item(text, ItemStatus.MANUAL, "for a person to confirm") for text in POST_MANUAL]
    return items
