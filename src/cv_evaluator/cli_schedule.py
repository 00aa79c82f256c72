"""`cv-evaluator maint scheduler | cron | notify`: running the schedules, and telling users."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
import time
from datetime import datetime
from typing import Any

import click

from cv_evaluator.cli_maint import default_actor, run_with_ops
from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.schedules import Schedule

log = logging.getLogger("cv_evaluator.ops.scheduler")


async def _execute(
    ctx: OpsContext, schedule: Schedule, trigger: str, *, dry_run: bool, monitor_minutes: int
) -> Any:
    """Perform one due schedule for the scheduler, which already holds the maintenance lock.

    Window schedules run as a maintenance window (`maint window run`), the others as a plain
    run; both are recorded in the maintenance log as they go.
    """
    from cv_evaluator.bootstrap import build_window
    from cv_evaluator.ops.runs import run_schedule

    # The log says who started each run: "scheduler (catch-up)" reads well in a report.
    performer = dataclasses.replace(ctx, actor=f"{ctx.actor} ({trigger})")
    if schedule.window:
        window = build_window(performer, schedule, monitor_minutes=monitor_minutes, dry_run=dry_run)
        return await window.run()
    return await run_schedule(performer, schedule, dry_run=dry_run)


def _load(settings: Any) -> dict[str, Schedule]:
    from cv_evaluator.ops.schedules import load_schedules

    try:
        return load_schedules(settings.maint_schedules_file)
    except CvEvaluatorError as exc:
        raise click.UsageError(exc.message) from None


@click.command("scheduler")
@click.option(
    "--once", is_flag=True, help="Perform what is due now (catch-up included), then exit."
)
@click.option(
    "--dry-run", is_flag=True, help="Perform every due schedule as a dry run (change nothing)."
)
@click.option(
    "--monitor-minutes",
    type=click.IntRange(0, 240),
    default=10,
    show_default=True,
    help="How long each window watches the service after reopening it.",
)
@click.option("--actor", default="scheduler", show_default=True, help="Recorded as who ran it.")
def scheduler(once: bool, dry_run: bool, monitor_minutes: int, actor: str) -> None:
    """Perform the schedules at their times, one at a time, catching up after downtime.

    Runs until SIGTERM or SIGINT, which let the procedure in progress finish (a second signal
    interrupts it). Every decision is logged as one line (JSON with LOG_FORMAT=json).
    """
    from cv_evaluator.cli import _log_files, load_settings
    from cv_evaluator.observability.logging import configure_logging
    from cv_evaluator.ops.calendar import zone_named
    from cv_evaluator.ops.scheduler import MaintenanceScheduler, Outcome

    settings = load_settings()
    schedules = _load(settings)
    configure_logging(
        settings.log_level, settings.log_format.value, _log_files(settings, "scheduler")
    )

    async def work(ctx: OpsContext) -> list[Outcome]:
        async def execute(schedule: Schedule, trigger: str) -> Any:
            return await _execute(
                ctx, schedule, trigger, dry_run=dry_run, monitor_minutes=monitor_minutes
            )

        runner = MaintenanceScheduler(
            ctx,
            schedules,
            execute,
            ctx.clock,
            asyncio.sleep,
            zone=zone_named(settings.maint_scheduler_timezone),
            dry_run=dry_run,
        )
        if once:
            return await runner.run_once()
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def on_signal() -> None:
            if runner.stopping():
                main_task.cancel()  # a second signal: interrupt the procedure in progress
            else:
                runner.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            await runner.run_forever()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return []

    try:
        outcomes = run_with_ops(settings, actor, work)
    except asyncio.CancelledError:
        click.echo("scheduler interrupted", err=True)
        sys.exit(130)
    if once:
        for outcome in outcomes:
            status = getattr(outcome.result, "status", None) or outcome.error or ""
            click.echo(f"{outcome.schedule}\t{outcome.trigger}\t{outcome.status}\t{status}")
        if not outcomes:
            click.echo("nothing due", err=True)
        sys.exit(_exit_code(outcomes))


def _exit_code(outcomes: list[Any]) -> int:
    """The worst of the runs performed (Nagios convention); 2 for a failed or skipped slot."""
    worst = 0
    for outcome in outcomes:
        if outcome.status == "already-done":
            continue
        code = getattr(outcome.result, "exit_code", 0) if outcome.status == "done" else 2
        worst = max(worst, code if isinstance(code, int) else 3)
    return worst


@click.command("cron")
@click.option(
    "--user",
    default="cv-evaluator",
    show_default=True,
    help="User the procedures run as (the cron.d user column, systemd User=); '' for a "
    "personal crontab without a user column.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["crontab", "systemd"]),
    default="crontab",
    show_default=True,
)
@click.option(
    "--bin-dir",
    default="/opt/ai-cv-evaluator/.venv/bin",
    show_default=True,
    help="Directory holding the cv-evaluator executable.",
)
@click.option(
    "--env-file",
    default="/etc/ai-cv-evaluator/env",
    show_default=True,
    help="The service's environment (KEY=value lines), read before each procedure.",
)
@click.option(
    "--log-file",
    default="/var/log/ai-cv-evaluator/maintenance.log",
    show_default=True,
    help="Crontab: where each procedure's output is appended (systemd uses the journal).",
)
def cron(user: str, fmt: str, bin_dir: str, env_file: str, log_file: str) -> None:
    """Print the schedules as crontab lines or systemd timer units (MAINT_SCHEDULER_TIMEZONE)."""
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops.calendar import zone_named
    from cv_evaluator.ops.cron import CronOptions, crontab, systemd_units

    settings = load_settings()
    schedules = _load(settings)
    zone = zone_named(settings.maint_scheduler_timezone)
    options = CronOptions(user=user or None, bin_dir=bin_dir, env_file=env_file, log_file=log_file)
    render = systemd_units if fmt == "systemd" else crontab
    click.echo(render(schedules.values(), zone, options), nl=False)


def _aware(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-12-06T03:00:00Z", param_hint=option
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no time zone: add Z or an offset such as +01:00", param_hint=option
        )
    return moment


@click.command("notify")
@click.option("--schedule", "schedule_name", default=None, help="The schedule to announce.")
@click.option("--start", default=None, help="Window start, ISO 8601 with a zone (…Z, +01:00).")
@click.option("--end", default=None, help="Window end, ISO 8601 with a zone.")
@click.option(
    "--completion", is_flag=True, help="Render the completion notice of a recorded run instead."
)
@click.option("--run", "run_id", default=None, help="With --completion: the maintenance run.")
@click.option(
    "--webhook",
    default=None,
    help="POST the notice here as JSON (default: MAINT_NOTIFY_WEBHOOK_URL; none: print only).",
)
@click.option("--dry-run", is_flag=True, help="Print the notice only: no webhook, no log entry.")
def notify(
    schedule_name: str | None,
    start: str | None,
    end: str | None,
    completion: bool,
    run_id: str | None,
    webhook: str | None,
    dry_run: bool,
) -> None:
    """Render the maintenance notification for users, print it and optionally post it.

    The notice is recorded in the maintenance log (kind "notification") with whether the webhook
    took it. Exit code 2 when the webhook failed.
    """
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops import notify as notices
    from cv_evaluator.ops.calendar import zone_named
    from cv_evaluator.ops.runs import MaintenanceLog
    from cv_evaluator.ops.schedules import get_schedule

    if completion:
        if run_id is None:
            raise click.UsageError("--completion needs --run RUN_ID")
        if schedule_name or start or end:
            raise click.UsageError("--completion takes --run, not --schedule/--start/--end")
    else:
        if run_id is not None:
            raise click.UsageError("--run goes with --completion")
        if not (schedule_name and start and end):
            raise click.UsageError("give --schedule, --start and --end (or --completion --run)")
    starts, ends = _aware(start, "--start"), _aware(end, "--end")
    settings = load_settings()
    zone = zone_named(settings.maint_scheduler_timezone)
    template_dir = settings.maint_notify_template_dir
    secret = settings.maint_notify_webhook_url
    url = webhook or (secret.get_secret_value() if secret else None) or None

    announced: notices.Notice | None = None
    if not completion:
        assert schedule_name is not None and starts is not None and ends is not None
        try:
            chosen = get_schedule(_load(settings), schedule_name)
            announced = notices.announcement(chosen, starts, ends, zone, template_dir)
        except CvEvaluatorError as exc:
            raise click.UsageError(exc.message) from None
        if dry_run:
            click.echo(announced.rendered(), nl=False)
            return

    async def work(ctx: OpsContext) -> tuple[notices.Notice, CvEvaluatorError | None]:
        maintenance_log = MaintenanceLog(ctx)
        if announced is not None:
            notice = announced
        else:
            assert run_id is not None
            try:
                notice = notices.completion(await maintenance_log.get(run_id), zone, template_dir)
            except CvEvaluatorError as exc:
                raise click.UsageError(exc.message) from None
        if dry_run:
            return notice, None
        entry = await maintenance_log.start(
            notice.schedule,
            dry_run=False,
            kind="notification",
            before={
                "notice": notice.kind,
                "subject": notice.subject,
                "text": notice.text,
                "window": notice.payload()["window"],
                "template": notice.template,
                **({"run_id": notice.run["id"]} if notice.run else {}),
            },
        )
        started = time.perf_counter()
        failure: CvEvaluatorError | None = None
        delivery: dict[str, Any] = {"configured": False}
        if url:
            delivery = {"configured": True, "url": notices.mask_url(url), "delivered": False}
            try:
                done = await notices.post_webhook(
                    url, notice.payload(), timeout=settings.maint_notify_timeout_seconds
                )
                delivery |= {
                    "delivered": True,
                    "status_code": done.status_code,
                    "attempts": done.attempts,
                    "errors": done.errors,
                }
            except CvEvaluatorError as exc:
                failure = exc
                delivery |= {"error": f"{exc.code.value}: {exc.message}", **exc.details}
        issues = (
            [{"source": "webhook", "status": "failed", "summary": failure.message}]
            if failure
            else []
        )
        await maintenance_log.update(
            entry,
            status="failed" if failure else "ok",
            finished_at=ctx.clock.now(),
            duration_seconds=round(time.perf_counter() - started, 3),
            issues=issues,
            after={"webhook": delivery},
        )
        return notice, failure

    notice, failure = run_with_ops(settings, default_actor(), work)
    click.echo(notice.rendered(), nl=False)
    if dry_run:
        return
    if failure is not None:
        click.echo(f"{failure.code.value}: {failure.message}", err=True)
        sys.exit(2)
    if url:
        click.echo(f"posted to {notices.mask_url(url)}", err=True)
