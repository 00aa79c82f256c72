"""`cv-evaluator maint backup`: create, list, verify, restore and prune backups.

Attached to the ``maint`` group by ``cli_maint``; the helpers of that module are imported inside
the commands, because ``cli_maint`` imports this module.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from cv_evaluator.ops.context import OpsContext


def _echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


def _human_bytes(value: float) -> str:
    from cv_evaluator.ops.backup_store import human_bytes

    return human_bytes(value)


def _when(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


@click.group()
def backup() -> None:
    """Backups of the database and the upload files: create, verify by restoring, restore, prune.

    Backups live in MAINT_BACKUP_DIR (default DATA_DIR/backups), one directory per backup with a
    manifest.json. See docs/operations.md, "Backups and restore verification".
    """


@backup.command("create")
@click.option(
    "--verify",
    "then_verify",
    is_flag=True,
    help="Verify the new backup right away (restore into a scratch database).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def create(then_verify: bool, as_json: bool) -> None:
    """Back up the database and the stored upload files."""
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_with_ops
    from cv_evaluator.ops.backup import Verification, create_backup, verify_backup
    from cv_evaluator.ops.backup_store import Backup

    async def work(ctx: OpsContext) -> tuple[Backup, Verification | None]:
        made = await create_backup(ctx, reason="manual")
        checked = await verify_backup(ctx, made.id) if then_verify else None
        return made, checked

    made, checked = run_with_ops(load_settings(), default_actor(), work)
    if as_json:
        _echo_json(
            {"backup": made.summary(), "verification": checked.as_dict() if checked else None}
        )
    else:
        files = made.manifest["files"]
        click.echo(
            f"created backup {made.id}: {made.backend}, {len(made.manifest['tables'])} tables, "
            f"{made.rows} rows, {files['count']} files ({files['linked']} linked, "
            f"{files['copied']} copied), {_human_bytes(made.size_bytes)} in "
            f"{made.manifest['duration_seconds']} s → {made.path}"
        )
        if checked is not None:
            _print_verification(checked.as_dict(), made.id)
    if checked is not None and not checked.ok:
        sys.exit(1)


@backup.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the backups as JSON.")
def list_(as_json: bool) -> None:
    """List the backups, oldest first, with their verification and measured restore time.

    `--json` adds each backup's reason, file count, schema revision and verification problems.
    """
    from cv_evaluator.cli import load_settings
    from cv_evaluator.ops.backup_store import list_backups

    settings = load_settings()
    listing = list_backups(settings.backup_dir)
    if as_json:
        _echo_json(
            {
                "backup_dir": str(settings.backup_dir),
                "backups": [b.summary() for b in listing.backups],
                "unreadable": listing.unreadable,
                "incomplete": [p.name for p in listing.leftovers],
            }
        )
        return
    table = Table(title=f"Backups in {settings.backup_dir}", box=box.SIMPLE_HEAD)
    # Ids are what an operator copies into `verify` and `restore`: never cut.
    table.add_column("id", no_wrap=True, min_width=30)
    for name in ("created (UTC)", "backend", "size", "rows", "verified (UTC)", "RTO"):
        table.add_column(name, overflow="fold")
    for item in listing.backups:
        summary = item.summary()
        if not summary["verified"]:
            verified = "never"
        else:
            verified = ("ok " if summary["verified_ok"] else "FAILED ") + _when(
                summary["verified_at"]
            )
        rto = summary["rto_seconds"]
        table.add_row(
            item.id,
            _when(summary["created_at"]),
            item.backend,
            _human_bytes(item.size_bytes),
            f"{item.rows:,}",
            verified,
            "—" if rto is None else f"{rto:g} s",
        )
    console = Console()
    console.print(table)
    for name, why in listing.unreadable.items():
        console.print(f"unreadable: {name}: {why}")
    for leftover in listing.leftovers:
        console.print(f"incomplete (crashed or running): {leftover.name}")


def _print_verification(result: dict[str, Any], backup_id: str) -> None:
    if result["ok"]:
        click.echo(
            f"verified {backup_id}: OK, restore took {result['rto_seconds']} s "
            f"(database {result['restore_seconds']} s, files {result['files_seconds']} s)"
        )
    else:
        click.echo(f"verified {backup_id}: FAILED")
        for problem in result["problems"]:
            click.echo(f"  problem: {problem}")
    for warning in result["warnings"]:
        click.echo(f"  warning: {warning}")


@backup.command("verify")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True, help="Print the verification as JSON.")
def verify(backup_id: str, as_json: bool) -> None:
    """Restore BACKUP_ID (or `latest`) into a scratch database and compare it with its manifest.

    Exit code 1 when the backup fails verification; the outcome is recorded in its manifest.
    """
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_with_ops
    from cv_evaluator.ops.backup import Verification, verify_backup

    async def work(ctx: OpsContext) -> Verification:
        return await verify_backup(ctx, backup_id)

    result = run_with_ops(load_settings(), default_actor(), work)
    if as_json:
        _echo_json({"backup_id": result.backup_id, **result.as_dict()})
    else:
        _print_verification(result.as_dict(), result.backup_id)
    if not result.ok:
        sys.exit(1)


@backup.command("restore")
@click.argument("backup_id")
@click.option("--yes", is_flag=True, help="Confirm: replace the database and the upload files.")
@click.option("--force", is_flag=True, help="Restore even a backup that failed verification.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def restore(backup_id: str, yes: bool, force: bool, as_json: bool) -> None:
    """Replace the configured database and upload files with BACKUP_ID (or `latest`).

    A safety backup of the current state is taken first. Stop the service (or start maintenance
    mode) before restoring: whatever it writes meanwhile is lost or mixed in.
    """
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_with_ops
    from cv_evaluator.ops.backup import Restored, restore_backup

    if not yes:
        raise click.UsageError(
            "restore replaces the configured database and the upload files with the backup's; "
            "pass --yes to confirm (a safety backup of the current state is taken first)"
        )

    async def work(ctx: OpsContext) -> Restored:
        return await restore_backup(ctx, backup_id, force=force)

    result = run_with_ops(load_settings(), default_actor(), work)
    if as_json:
        _echo_json(result.as_dict())
        return
    if result.safety_backup_id:
        click.echo(f"safety backup of the previous state: {result.safety_backup_id}")
    click.echo(
        f"restored {result.backup_id}: {result.rows:,} rows in {result.database_seconds} s; "
        f"files: {result.files_restored} restored, {result.files_unchanged} unchanged, "
        f"{result.files_removed} removed; {result.seconds} s in all"
    )
    for warning in result.warnings:
        click.echo(f"  warning: {warning}")


@backup.command("prune")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def prune(dry_run: bool, as_json: bool) -> None:
    """Delete backups outside the daily/weekly/monthly retention (never the newest verified)."""
    from cv_evaluator.cli import load_settings
    from cv_evaluator.cli_maint import default_actor, run_with_ops
    from cv_evaluator.ops.backup import Pruned, prune_backups

    async def work(ctx: OpsContext) -> Pruned:
        return await prune_backups(ctx, dry_run=dry_run)

    result = run_with_ops(load_settings(), default_actor(), work)
    if as_json:
        _echo_json(result.as_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    for item in result.kept:
        click.echo(
            f"keep   {item['id']}  {_when(item['created_at'])}  {', '.join(item['reasons'])}"
        )
    for item in result.deleted:
        click.echo(f"{verb.split()[-1]} {item['id']}  {_when(item['created_at'])}")
    for name in result.leftovers:
        click.echo(f"{verb} incomplete {name}")
    total = sum(int(d["size_bytes"]) for d in result.deleted)
    click.echo(
        f"{verb} {len(result.deleted)} backups ({_human_bytes(total)}), kept {len(result.kept)}"
    )
