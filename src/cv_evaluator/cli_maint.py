"""`cv-evaluator maint`: the maintenance runbook as commands (checks, runs, reports)."""

from __future__ import annotations

import asyncio
import getpass
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console
from rich.table import Table

from cv_evaluator.config import Settings
from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.ops.context import OpsContext

if TYPE_CHECKING:
    from cv_evaluator.ops.runs import MaintenanceRun

_T = TypeVar("_T")


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run_with_ops(settings: Settings, actor: str, work: Callable[[OpsContext], Awaitable[_T]]) -> _T:
    from cv_evaluator.bootstrap import build_ops_context

    # The Kafka client logs every failed connection attempt as an error; the checks report an
    # unreachable broker themselves, once, with the reason.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def main() -> _T:
        ctx = build_ops_context(settings, actor=actor)
        try:
            return await work(ctx)
        finally:
            await ctx.engine.dispose()

    try:
        return asyncio.run(main())
    except CvEvaluatorError as exc:
        raise click.ClickException(f"{exc.code.value}: {exc.message}") from None


def run_locked(settings: Settings, actor: str, work: Callable[[OpsContext], Awaitable[_T]]) -> _T:
    """``run_with_ops`` holding the maintenance lock: one procedure at a time, across hosts.

    When another procedure (a run, a window, a drill, the scheduler's) holds it, say who and
    since when, and exit 2.
    """
    from cv_evaluator.domain.errors import Conflict
    from cv_evaluator.ops.lock import MAINTENANCE_LOCK, MaintenanceLock, lock_holder

    async def locked(ctx: OpsContext) -> _T | Conflict:
        try:
            async with MaintenanceLock(ctx).hold(MAINTENANCE_LOCK, lock_holder(ctx.actor)):
                return await work(ctx)
        except Conflict as exc:
            return exc

    outcome = run_with_ops(settings, actor, locked)
    if isinstance(outcome, Conflict):
        click.echo(
            f"{outcome.code.value}: another maintenance procedure is running: {outcome.message}",
            err=True,
        )
        sys.exit(2)
    return outcome


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.group()
def maint() -> None:
    """Maintenance: health checks, scheduled procedures, the maintenance log and reports.

    Exit codes follow the Nagios convention: 0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN.
    """


@maint.command("check")
@click.option("--only", multiple=True, help="Checks to run: names, groups or globs (repeatable).")
@click.option("--skip", multiple=True, help="Checks to leave out: names, groups or globs.")
@click.option("--list", "list_only", is_flag=True, help="List the checks and exit.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)
@click.option(
    "--verbose", "-v", is_flag=True, help="Table format: also print each check's details."
)
def check(
    only: tuple[str, ...], skip: tuple[str, ...], list_only: bool, fmt: str, verbose: bool
) -> None:
    """Run health checks (read-only) against the configured backends."""
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops.registry import select_checks
    from cv_evaluator.ops.render import print_table, report_json, report_markdown
    from cv_evaluator.ops.runner import run_checks

    try:
        specs = select_checks(_split(only), _split(skip))
    except CvEvaluatorError as exc:
        raise click.UsageError(f"{exc.message}; see `cv-evaluator maint check --list`") from None
    if list_only:
        table = Table("check", "group", "what it looks at", title="Maintenance checks")
        for spec in specs:
            table.add_row(spec.name, spec.group, spec.description)
        Console().print(table)
        return
    settings = load_settings()
    report = run_with_ops(settings, default_actor(), lambda ctx: run_checks(ctx, specs))
    if fmt == "json":
        click.echo(report_json(report))
    elif fmt == "markdown":
        click.echo(report_markdown(report), nl=False)
    else:
        print_table(report, Console(), verbose=verbose)
    sys.exit(report.exit_code)


@maint.command("run")
@click.argument("schedule")
@click.option("--dry-run", is_flag=True, help="Show what each task would do; change nothing.")
@click.option("--actor", default=None, help="Who or what starts the run (default: user@host).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
def run(schedule: str, dry_run: bool, actor: str | None, fmt: str) -> None:
    """Perform a schedule (daily, weekly, monthly, quarterly): its tasks, then its checks.

    The run is recorded in the maintenance log, even when it fails half-way. Exit code: 2 when a
    task failed or another maintenance procedure holds the maintenance lock, else the worst
    post-maintenance check status (Nagios convention).
    """
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops.report import report_json, report_markdown
    from cv_evaluator.ops.runs import MaintenanceLog, run_schedule
    from cv_evaluator.ops.schedules import get_schedule, load_schedules

    settings = load_settings()
    try:
        chosen = get_schedule(load_schedules(settings.maint_schedules_file), schedule)
    except CvEvaluatorError as exc:
        raise click.UsageError(exc.message) from None

    async def work(ctx: OpsContext) -> tuple[MaintenanceRun, datetime | None]:
        result = await run_schedule(ctx, chosen, dry_run=dry_run)
        last = (await MaintenanceLog(ctx).last_successes()).get(chosen.name)
        return result, last

    result, last = run_locked(settings, actor or default_actor(), work)
    if fmt == "json":
        lasts = {chosen.name: last} if last else {}
        click.echo(report_json([result], every_days={chosen.name: chosen.every_days}, last=lasts))
    else:
        text = report_markdown(result, every_days=chosen.every_days, last_success=last)
        click.echo(text, nl=False)
    sys.exit(result.exit_code)


@maint.command("report")
@click.option("--run", "run_id", default=None, help="The maintenance run to report.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Every run started on or after this date (UTC).",
)
@click.option("--schedule", default=None, help="Only runs of this schedule.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "html"]),
    default="markdown",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to this file instead of standard output.",
)
def report(
    run_id: str | None, since: datetime | None, schedule: str | None, fmt: str, output: Path | None
) -> None:
    """Render the maintenance log: the latest run by default."""
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops.runs import MaintenanceLog
    from cv_evaluator.ops.schedules import load_schedules

    if run_id and since:
        raise click.UsageError("give --run or --since, not both")
    settings = load_settings()
    every = {s.name: s.every_days for s in load_schedules(settings.maint_schedules_file).values()}

    async def work(ctx: OpsContext) -> tuple[list[MaintenanceRun], dict[str, datetime]]:
        log = MaintenanceLog(ctx)
        if run_id:
            runs = [await log.get(run_id)]
        elif since:
            runs = await log.since(since.replace(tzinfo=UTC), schedule=schedule)
        else:
            latest = await log.latest(schedule=schedule)
            runs = [latest] if latest else []
        return runs, await log.last_successes()

    runs, last = run_with_ops(settings, default_actor(), work)
    if not runs:
        raise click.ClickException("no maintenance run on record for that selection")
    text = render_report(runs, fmt, every, last)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


def render_report(
    runs: Sequence[MaintenanceRun],
    fmt: str,
    every: Mapping[str, float],
    last: Mapping[str, datetime],
) -> str:
    """The maintenance log entries as Markdown, JSON or a standalone HTML page."""
    from cv_evaluator.ops.report import report_html, report_json, report_markdown

    if fmt == "json":
        return report_json(runs, every_days=every, last=last)
    if fmt == "html":
        return report_html(runs, every_days=every, last=last)
    return "\n---\n\n".join(
        report_markdown(r, every_days=every.get(r.schedule), last_success=last.get(r.schedule))
        for r in runs
    )


@maint.command("schedules")
def schedules() -> None:
    """List the schedules with their tasks and checks, last success and when each is due."""
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops.runs import MaintenanceLog
    from cv_evaluator.ops.schedules import load_schedules

    settings = load_settings()
    try:
        known = load_schedules(settings.maint_schedules_file)
    except CvEvaluatorError as exc:
        raise click.UsageError(exc.message) from None

    async def work(ctx: OpsContext) -> dict[str, datetime]:
        return await MaintenanceLog(ctx).last_successes()

    last = run_with_ops(settings, default_actor(), work)
    now = datetime.now(UTC)
    table = Table(
        "schedule", "every", "tasks", "checks", "last success", "next due", title="Schedules"
    )
    for item in known.values():
        previous = last.get(item.name)
        due = previous + timedelta(days=item.every_days) if previous else None
        table.add_row(
            item.name,
            f"{item.every_days:g} d",
            ", ".join(item.tasks) or "—",
            ", ".join(item.checks) or "—",
            previous.isoformat(timespec="seconds") if previous else "never",
            ("OVERDUE " if due is None or due < now else "")
            + (due.isoformat(timespec="seconds") if due else "now"),
        )
    Console().print(table)


@maint.command("tasks")
def tasks() -> None:
    """List the maintenance tasks."""
    from cv_evaluator.ops.registry import all_tasks

    table = Table("task", "what it does", title="Maintenance tasks")
    for spec in all_tasks():
        table.add_row(spec.name, spec.description)
    Console().print(table)
