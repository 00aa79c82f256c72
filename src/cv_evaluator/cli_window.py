"""`cv-evaluator maint window|checklist|drill`: windows, their checklists and recovery drills."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.runs import MaintenanceRun

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "html"]),
    default="markdown",
    show_default=True,
    help="Format of the report printed at the end.",
)
_OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report to this file.",
)


def _emit(run: MaintenanceRun, fmt: str, output: Path | None, every_days: float | None) -> None:
    """Print the report of ``run`` and, with ``-o``, also write it to that file."""
    from cv_evaluator.cli_maint import render_report

    every = {run.schedule: every_days} if every_days is not None else {}
    text = render_report([run], fmt, every, {})
    click.echo(text, nl=False)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@click.group()
def window() -> None:
    """Maintenance windows: a schedule performed with the service closed to new work."""


@window.command("run")
@click.argument("schedule")
@click.option(
    "--monitor-minutes",
    type=click.IntRange(0, 240),
    default=10,
    show_default=True,
    help="How long to watch the service after reopening it (intervals of "
    "MAINT_WINDOW_MONITOR_INTERVAL_SECONDS).",
)
@click.option("--dry-run", is_flag=True, help="Pre-flight and the plan only; change nothing.")
@click.option("--actor", default=None, help="Who or what starts the window (default: user@host).")
@_FORMAT
@_OUTPUT
def window_run(
    schedule: str,
    monitor_minutes: int,
    dry_run: bool,
    actor: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Perform SCHEDULE as a window: pre-flight, mode on, drain, tasks, verify, reopen, monitor.

    Talks to the running service at MAINT_BASE_URL for health, readiness and the smoke test, and
    to the database for the mode and the tasks. Exit code: 2 when a step failed (the report says
    whether the mode was cleared or left on), else the worst post-maintenance status.
    """
    from cv_evaluator.bootstrap import build_window
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_locked
    from cv_evaluator.ops.schedules import get_schedule, load_schedules

    settings = load_settings()
    try:
        chosen = get_schedule(load_schedules(settings.maint_schedules_file), schedule)
    except CvEvaluatorError as exc:
        raise click.UsageError(exc.message) from None

    async def work(ctx: OpsContext) -> MaintenanceRun:
        procedure = build_window(ctx, chosen, monitor_minutes=monitor_minutes, dry_run=dry_run)
        return await procedure.run()

    result = run_locked(settings, actor or default_actor(), work)
    _emit(result, fmt, output, chosen.every_days)
    sys.exit(result.exit_code)


@click.command()
@click.argument("which", type=click.Choice(["pre", "post"]))
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
def checklist(which: str, as_json: bool) -> None:
    """Print the pre- or post-maintenance checklist, each item evaluated where it can be.

    Exit code: 0 when every item a machine can check is done, 1 on a warning, 2 on a failure.
    Items marked "manual" are for a person to tick.
    """
    from cv_evaluator.bootstrap import build_mode_service, build_probe
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_with_ops
    from cv_evaluator.ops.checklist import Item, exit_code, post_checklist, pre_checklist

    settings = load_settings()

    async def work(ctx: OpsContext) -> list[Item]:
        evaluate = pre_checklist if which == "pre" else post_checklist
        return await evaluate(ctx, build_probe(settings), build_mode_service(ctx))

    items = run_with_ops(settings, default_actor(), work)
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in items], indent=2))
    else:
        marks = {"done": "[x]", "warn": "[!]", "failed": "[ ] FAILED", "manual": "[ ] manual"}
        title = "Pre-maintenance checklist" if which == "pre" else "Post-maintenance checklist"
        table = Table("", "item", "evidence", title=title)
        for item in items:
            table.add_row(marks[item.status.value], item.text, item.evidence)
        Console(width=140).print(table)
    sys.exit(exit_code(items))


@click.command()
@click.option(
    "--failover",
    is_flag=True,
    help="Also kill the drill service under load and show another takes its work over.",
)
@click.option(
    "--failover-jobs",
    type=click.IntRange(1, 1000),
    default=40,
    show_default=True,
    help="Evaluations submitted as the load of the failover test.",
)
@click.option("--actor", default=None, help="Who runs the drill (default: user@host).")
@_FORMAT
@_OUTPUT
def drill(
    failover: bool, failover_jobs: int, actor: str | None, fmt: str, output: Path | None
) -> None:
    """The disaster-recovery drill: backup, restore into scratch, serve it, smoke test, RTO/RPO.

    The service started on the restored copy listens on a free local port with the database
    queue, so the live service and its queue are not touched. Exit code 2 when a step failed.
    """
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_locked
    from cv_evaluator.ops.drill import Drill
    from cv_evaluator.ops.schedules import load_schedules

    settings = load_settings()
    schedules = load_schedules(settings.maint_schedules_file)

    async def work(ctx: OpsContext) -> MaintenanceRun:
        return await Drill(
            ctx,
            schedules=schedules,
            failover=failover,
            failover_jobs=failover_jobs,
            probe_timeout_seconds=settings.maint_http_timeout_seconds,
            smoke_timeout_seconds=settings.maint_window_smoke_timeout_seconds,
        ).run()

    result = run_locked(settings, actor or default_actor(), work)
    _emit(result, fmt, output, None)
    sys.exit(result.exit_code)
