"""`cv-evaluator maint mode`: maintenance mode, acting on the database directly."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.service.maintenance import MaintenanceService, parse_duration

_T = TypeVar("_T")


def _with_service(work: Callable[[MaintenanceService], Awaitable[_T]]) -> _T:
    from cv_evaluator.bootstrap import build_maintenance
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_with_ops
    from cv_evaluator.storage.ledger import SqlJobLedger

    async def with_service(ctx: OpsContext) -> _T:
        # Only the database: no evaluator pool, queue client or monitor for a state change.
        service, _gate = build_maintenance(ctx.engine, SqlJobLedger(ctx.engine), ctx.clock)
        return await work(service)

    return run_with_ops(load_settings(), default_actor(), with_service)


def _print(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status, indent=2, default=str))
        return
    if status["enabled"]:
        click.echo(f"maintenance mode ON: {status['reason']}")
        click.echo(f"  started {status['started_at']} by {status['started_by']}")
        click.echo(f"  ends {status['ends_at'] or 'when stopped'}")
        click.echo(f"  refused clients retry after {status['retry_after_seconds']} s")
        click.echo(f"  bypass token: {status['bypass_token']}")
    else:
        expired = " (the last one expired by itself)" if status["expired"] else ""
        click.echo(f"maintenance mode off{expired}")
    click.echo(f"  jobs in flight: {status['in_flight_jobs']}")


@click.group()
def mode() -> None:
    """Maintenance mode: refuse new work system-wide while workers finish what they hold."""


@mode.command("start")
@click.option("--reason", required=True, help="Why; shown to refused clients and audited.")
@click.option("--duration", default=None, help="How long (seconds, or 30m, 2h); ends by itself.")
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]),
    default=None,
    help="When it ends by itself (with a zone, e.g. 2026-12-01T04:00+0000).",
)
@click.option("--retry-after", type=int, default=None, help="Seconds clients are told to wait.")
@click.option("--bypass-token", is_flag=True, help="Issue a token that lets requests through.")
@click.option("--actor", default=None, help="Who starts it (default: user@host).")
@click.option("--json", "as_json", is_flag=True)
def start(
    reason: str,
    duration: str | None,
    until: datetime | None,
    retry_after: int | None,
    bypass_token: bool,
    actor: str | None,
    as_json: bool,
) -> None:
    """Turn maintenance mode on (every instance sees it within 2 seconds)."""
    from cv_evaluator.cli_maint import default_actor

    async def work(service: MaintenanceService) -> tuple[dict[str, Any], str | None]:
        _state, token = await service.start(
            reason=reason,
            actor=actor or default_actor(),
            duration=parse_duration(duration) if duration else None,
            until=until,
            retry_after=retry_after,
            bypass=bypass_token,
        )
        return await service.status(), token

    status, token = _with_service(work)
    if token is not None:
        status["bypass_token_value"] = token
    _print(status, as_json)
    if token is not None and not as_json:
        click.echo(f"  bypass: send the header X-Maintenance-Bypass: {token}")
        click.echo("  (shown once; only its hash is stored)")


@mode.command("stop")
@click.option("--reason", default="", help="Optional note for the audit trail.")
@click.option("--actor", default=None, help="Who stops it (default: user@host).")
@click.option("--json", "as_json", is_flag=True)
def stop(reason: str, actor: str | None, as_json: bool) -> None:
    """Turn maintenance mode off."""
    from cv_evaluator.cli_maint import default_actor

    async def work(service: MaintenanceService) -> dict[str, Any]:
        await service.stop(actor=actor or default_actor(), reason=reason)
        return await service.status()

    _print(_with_service(work), as_json)


@mode.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Show the mode, its reason and end, jobs still in flight and the latest changes."""

    async def work(service: MaintenanceService) -> dict[str, Any]:
        return await service.status()

    _print(_with_service(work), as_json)
