"""The ``cv-evaluator`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cv_evaluator import __version__
from cv_evaluator.config import Settings, setting_docs
from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.observability.logging import LogFiles

log = logging.getLogger("cv_evaluator.cli")

# A process that could not start as configured (e.g. its metrics port is taken).
_EXIT_CANNOT_START = 2


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise click.ClickException("invalid configuration:\n" + "\n".join(lines)) from None


def _log_files(settings: Settings, process: str) -> LogFiles | None:
    if settings.log_dir is None:
        return None
    return LogFiles(
        directory=settings.log_dir,
        process=process,
        max_bytes=int(settings.log_file_max_mb * 1024 * 1024),
        backups=settings.log_file_backups,
    )


def _migrate(settings: Settings) -> str:
    from cv_evaluator.storage.migrate import upgrade

    return upgrade(settings.database_url)


@click.group()
@click.version_option(__version__, prog_name="cv-evaluator")
def main() -> None:
    """AI CV Evaluator: evaluate CVs and project reports against a job description and rubric."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = load_settings()
    revision = _migrate(settings)
    click.echo(f"database at revision {revision}")


def _graceful_server_class() -> type[Any]:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """Exits 0 after a signal-initiated graceful shutdown.

        uvicorn re-raises the captured signal once it has shut down, so the process would die by
        SIGTERM even when every in-flight job finished cleanly; supervisors would read that as a
        crash. Here the signal only starts the shutdown.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {
                sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


@main.command()
@click.option("--host", default=None, help="Bind address (default: APP_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: APP_PORT).")
@click.option(
    "--workers", type=int, default=None, help="In-process workers (default: APP_WORKERS)."
)
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
def serve(host: str | None, port: int | None, workers: int | None, no_migrate: bool) -> None:
    """Serve the HTTP API with in-process evaluation workers."""
    import uvicorn

    from cv_evaluator.bootstrap import build_app, build_runtime, setup_tracing
    from cv_evaluator.observability.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format.value, _log_files(settings, "serve"))
    setup_tracing(settings, "api")
    if settings.app_migrate_on_start and not no_migrate:
        _migrate(settings)
    app = build_app(build_runtime(settings), workers=workers)
    config = uvicorn.Config(
        app,
        host=host or settings.app_host,
        port=port or settings.app_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.worker_shutdown_timeout_seconds) + 5,
    )
    _graceful_server_class()(config).run()


@main.command()
@click.option("--concurrency", type=int, default=None, help="Jobs at once (default: APP_WORKERS).")
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
def worker(concurrency: int | None, no_migrate: bool) -> None:
    """Run evaluation workers only (any number of processes against the same database).

    With APP_METRICS_PORT set, the process also serves /metrics and /healthz on that port; a port
    it cannot listen on stops it before it takes any work (exit code 2, error UNAVAILABLE).
    """
    from cv_evaluator.bootstrap import build_runtime, setup_tracing
    from cv_evaluator.observability import metrics_server
    from cv_evaluator.observability.logging import configure_logging
    from cv_evaluator.observability.metrics_server import MetricsServer

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format.value, _log_files(settings, "worker"))
    setup_tracing(settings, "worker")
    if settings.app_migrate_on_start and not no_migrate:
        _migrate(settings)
    count = concurrency if concurrency is not None else max(1, settings.app_workers)

    async def run() -> int:
        runtime = build_runtime(settings)
        runtime.metrics.without_api()
        server: MetricsServer | None = None
        if settings.app_metrics_port is not None:
            server = MetricsServer(runtime.metrics, settings.app_host, settings.app_metrics_port)
            try:
                server.start()
            except CvEvaluatorError as exc:
                # Before any work is taken: a worker Prometheus cannot see must not run unseen.
                log.error(
                    exc.message, extra={"event": "worker_start_failed", "code": exc.code.value}
                )
                await runtime.close()
                return _EXIT_CANNOT_START
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await runtime.start()
            await runtime.warm_up()
            runtime.worker_pool(count).start()
            if server is not None:
                server.state = metrics_server.OK
            log.info(
                "worker started with %d concurrent job(s)",
                count,
                extra={
                    "event": "worker_started",
                    "concurrency": count,
                    "metrics_port": settings.app_metrics_port,
                },
            )
            await stop.wait()
            if server is not None:
                server.state = metrics_server.STOPPING
            log.info("stopping: finishing in-flight jobs", extra={"event": "worker_stopping"})
            await runtime.close()
        finally:
            if server is not None:
                await asyncio.to_thread(server.stop)
        return 0

    exit_code = asyncio.run(run())
    if exit_code:
        sys.exit(exit_code)


@main.group()
def queue() -> None:
    """Inspect and repair the job queue."""


@queue.group()
def dlq() -> None:
    """Dead letters: jobs that failed for good (QUEUE_BACKEND=kafka)."""


def _kafka_runtime() -> Any:
    from cv_evaluator.bootstrap import build_runtime
    from cv_evaluator.config import QueueBackend

    settings = load_settings()
    if settings.queue_backend is not QueueBackend.KAFKA:
        raise click.ClickException("dead letters exist only with QUEUE_BACKEND=kafka")
    return build_runtime(settings)


@dlq.command("list")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def dlq_list(limit: int, as_json: bool) -> None:
    """List dead letters, oldest first."""

    async def read() -> list[dict[str, Any]]:
        runtime = _kafka_runtime()
        try:
            letters: list[dict[str, Any]] = await runtime.queue.read_dead_letters(limit)
            return letters
        finally:
            await runtime.close()

    letters = asyncio.run(read())
    if as_json:
        click.echo(json.dumps(letters, indent=2))
        return
    table = Table("job", "failed at", "code", "message", "attempts", title="Dead letters")
    for letter in letters:
        table.add_row(
            letter.get("job_id", ""),
            str(letter.get("failed_at", "")),
            letter.get("error", {}).get("code", ""),
            letter.get("error", {}).get("message", ""),
            str(len(letter.get("attempts", []))),
        )
    Console().print(table)


@dlq.command("replay")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter on the topic.")
def dlq_replay(job_ids: tuple[str, ...], replay_all: bool) -> None:
    """Put failed jobs back in the queue with fresh attempts, and publish them."""
    if not job_ids and not replay_all:
        raise click.UsageError("name job ids, or pass --all")

    async def replay() -> list[tuple[str, bool]]:
        runtime = _kafka_runtime()
        try:
            ids = list(job_ids)
            if replay_all:
                ids += [letter["job_id"] for letter in await runtime.queue.read_dead_letters()]
            outcome = []
            for job_id in dict.fromkeys(ids):
                requeued = await runtime.ledger.requeue_failed(job_id, runtime.clock.now())
                if requeued:
                    await runtime.queue.publish(job_id)
                outcome.append((job_id, requeued))
            return outcome
        finally:
            await runtime.close()

    for job_id, requeued in asyncio.run(replay()):
        click.echo(f"{job_id}: {'requeued' if requeued else 'not failed (left as it is)'}")


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config_show(as_json: bool) -> None:
    """Print the effective configuration, secrets masked."""
    effective = load_settings().effective()
    if as_json:
        click.echo(json.dumps(effective, indent=2, default=str))
        return
    table = Table("setting", "value", title="Effective configuration")
    for name, value in effective.items():
        table.add_row(name, "" if value is None else str(value))
    Console().print(table)


@config.command("docs")
def config_docs() -> None:
    """Print the settings reference as Markdown (the source of docs/configuration.md)."""
    click.echo(render_settings_markdown())


def render_settings_markdown() -> str:
    lines = [
        "| Variable | Default | Meaning |",
        "|---|---|---|",
    ]
    for env, default, help_text in setting_docs():
        shown = f"`{default}`" if default else "(empty)"
        lines.append(f"| `{env}` | {shown} | {help_text} |")
    return "\n".join(lines)


def _read_text_file(path: Path | None) -> str | None:
    return None if path is None else path.read_text(encoding="utf-8")


@main.command()
@click.argument("cv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("project", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--job-description", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brief", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rubric", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def evaluate(
    cv: Path,
    project: Path,
    job_description: Path | None,
    brief: Path | None,
    rubric: Path | None,
    as_json: bool,
) -> None:
    """Evaluate a CV and a project report here, without a server, and print the result."""
    from cv_evaluator.domain.jobs import EvaluationInputs
    from cv_evaluator.evaluation.local import LocalEvaluator
    from cv_evaluator.ingest import DocumentReader
    from cv_evaluator.service.requests import build_request, document_from

    settings = load_settings()
    reader = DocumentReader(max_pages=settings.max_document_pages)
    try:
        cv_doc = document_from(reader.read(cv.read_bytes(), cv.name))
        project_doc = document_from(reader.read(project.read_bytes(), project.name))
        request = build_request(
            cv_doc,
            project_doc,
            EvaluationInputs(
                cv_id="",
                project_id="",
                job_description=_read_text_file(job_description),
                study_case_brief=_read_text_file(brief),
                scoring_rubric=_read_text_file(rubric),
            ),
            as_of=datetime.now(UTC).date(),
        )
        outcome = LocalEvaluator().evaluate_sync(request)
    except CvEvaluatorError as exc:
        click.echo(f"error {exc.code.value}: {exc.message}", err=True)
        sys.exit(2)
    result = outcome.as_dict()
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    _print_result(result)


def _print_result(result: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"[bold]CV match rate[/bold] {result['cv_match_rate']:.3f}    "
        f"[bold]Project score[/bold] {result['project_score']:.2f}/10"
    )
    table = Table("group", "parameter", "score", "weight", "rationale", title="Breakdown")
    for item in result["breakdown"]:
        table.add_row(
            item["group"],
            item["label"],
            f"{item['score']}/5",
            f"{item['weight']:.0%}",
            item["rationale"],
        )
    console.print(table)
    for flag in result["flags"]:
        console.print(
            f"[yellow]flag[/yellow] {flag['code']} ({flag['document']}): {flag['message']}"
        )
    console.print(f"\n[bold]CV feedback[/bold]\n{result['cv_feedback']}")
    console.print(f"\n[bold]Project feedback[/bold]\n{result['project_feedback']}")
    console.print(f"\n[bold]Summary[/bold]\n{result['overall_summary']}")
    receipt = result["receipt"]
    console.print(
        f"\n[dim]evaluator {receipt['evaluator']} {receipt['evaluator_version']}, "
        f"rubric {receipt['rubric']['sha256'][:12]}[/dim]"
    )


def _add_subcommands() -> None:
    from cv_evaluator.cli_backup import backup
    from cv_evaluator.cli_maint import maint
    from cv_evaluator.cli_mode import mode
    from cv_evaluator.cli_schedule import cron, notify, scheduler
    from cv_evaluator.cli_window import checklist, drill, window

    maint.add_command(mode)
    maint.add_command(backup)
    maint.add_command(window)
    maint.add_command(checklist)
    maint.add_command(drill)
    maint.add_command(scheduler)
    maint.add_command(cron)
    maint.add_command(notify)
    main.add_command(maint)


_add_subcommands()
