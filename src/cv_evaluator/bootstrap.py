"""The one composition root: builds every adapter from settings and wires the use cases.

Building a runtime opens nothing; connections open on first use and close in ``Runtime.close``.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cv_evaluator.api.app import create_app
from cv_evaluator.api.context import ApiContext
from cv_evaluator.api.result_cache import CompletedResultCache
from cv_evaluator.background import BackgroundTask
from cv_evaluator.config import QueueBackend, Settings
from cv_evaluator.domain.clock import Clock, SystemClock
from cv_evaluator.domain.errors import CvEvaluatorError, Unavailable
from cv_evaluator.domain.evaluation import CandidateDocument, EvaluationRequest
from cv_evaluator.domain.ports import Evaluator
from cv_evaluator.evaluation.local import LocalEvaluator
from cv_evaluator.evaluation.references import default_case_study_brief, default_job_description
from cv_evaluator.evaluation.rubric import default_rubric, load_rubric
from cv_evaluator.ingest import DocumentReader
from cv_evaluator.observability import tracing
from cv_evaluator.observability.build_info import build_revision
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.monitor import HealthMonitor
from cv_evaluator.ops.registry import select_checks, split_patterns
from cv_evaluator.ops.schedules import Schedule, load_schedules
from cv_evaluator.queue.db import DbJobQueue
from cv_evaluator.queue.kafka import KafkaJobQueue, KafkaSettings
from cv_evaluator.queue.pg_notify import PgJobNotifications
from cv_evaluator.service.callback_urls import parse_allowed_hosts
from cv_evaluator.service.evaluations import EvaluationService
from cv_evaluator.service.maintenance import MaintenanceGate, MaintenanceService
from cv_evaluator.service.requests import JobRequestLoader
from cv_evaluator.service.results import ResultService
from cv_evaluator.service.uploads import UploadService
from cv_evaluator.storage.blobs import FileBlobStore
from cv_evaluator.storage.callbacks import SqlCallbackOutbox
from cv_evaluator.storage.engine import is_sqlite, make_async_engine
from cv_evaluator.storage.ledger import SqlJobLedger
from cv_evaluator.storage.maintenance import SqlMaintenanceStore
from cv_evaluator.storage.migrate import head_revision
from cv_evaluator.storage.unit_of_work import SqlUnitOfWorkFactory
from cv_evaluator.worker.callbacks import CallbackDispatcher
from cv_evaluator.worker.offload import ProcessPoolEvaluator
from cv_evaluator.worker.pool import WorkerPool
from cv_evaluator.worker.processor import JobProcessor, ProcessorSettings

if TYPE_CHECKING:
    from cv_evaluator.ops.probe import ServiceProbe
    from cv_evaluator.ops.window import MaintenanceWindow

_JSON_BODY_LIMIT_FACTOR = 4  # UTF-8 and JSON escaping can make a character up to ~4 bytes


def setup_tracing(settings: Settings, role: str) -> bool:
    """Turn tracing on for this process when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; call it
    before building the runtime (database engines are instrumented as they are built)."""
    return tracing.configure(
        endpoint=settings.otel_exporter_otlp_endpoint,
        service_name=settings.otel_service_name,
        role=role,
    )


def queue_info(settings: Settings) -> tracing.QueueInfo:
    if settings.queue_backend is QueueBackend.KAFKA:
        return tracing.QueueInfo("kafka", settings.kafka_topic)
    return tracing.DB_QUEUE


def build_evaluator(settings: Settings) -> Evaluator:
    if settings.ai_local_processes > 0:
        return ProcessPoolEvaluator(settings.ai_local_processes)
    return LocalEvaluator(step=tracing.evaluation_step)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    metrics: ServiceMetrics
    uow: SqlUnitOfWorkFactory
    ledger: SqlJobLedger
    queue: DbJobQueue | KafkaJobQueue
    evaluator: Evaluator
    uploads: UploadService
    evaluations: EvaluationService
    results: ResultService
    processor: JobProcessor
    notifications: PgJobNotifications | None = None
    callbacks: CallbackDispatcher | None = None
    monitor: HealthMonitor | None = None
    maintenance: MaintenanceService | None = None
    gate: MaintenanceGate | None = None
    _monitor_task: BackgroundTask | None = None
    pools: list[WorkerPool] = field(default_factory=list)
    self_test: dict[str, Any] = field(
        default_factory=lambda: {"ok": True, "self_test": "not run in this process"}
    )

    def worker_pool(self, concurrency: int) -> WorkerPool:
        if self.notifications is not None:
            self.notifications.start()
        if self.callbacks is not None:
            self.callbacks.start()
        pool = WorkerPool(
            self.queue,
            self.processor,
            concurrency=concurrency,
            poll_interval=self.settings.worker_poll_interval_seconds,
            shutdown_timeout=self.settings.worker_shutdown_timeout_seconds,
            paused=self.gate.workers_paused if self.gate is not None else None,
            on_pause=self.queue.set_paused if isinstance(self.queue, KafkaJobQueue) else None,
        )
        self.pools.append(pool)
        return pool

    async def readiness(self) -> dict[str, dict[str, Any]]:
        database = await self._check_database()
        checks: dict[str, dict[str, Any]] = {"database": database}
        if database["ok"]:
            counts = await self.ledger.count_by_status()
            checks["queue"] = {
                "ok": True,
                "backend": self.settings.queue_backend.value,
                "queued": counts.get("queued", 0),
                "processing": counts.get("processing", 0),
            }
        else:
            checks["queue"] = {
                "ok": False,
                "backend": self.settings.queue_backend.value,
                "reason": "the database queue needs the database",
            }
        checks["evaluator"] = self._check_evaluator()
        checks["disk"] = self._check_disk()
        if self.gate is not None:
            # Reported, never a reason to be unready: reads and results keep working.
            state = await self.gate.state()
            now = self.clock.now()
            checks["maintenance"] = {
                "ok": True,
                "enabled": state.active(now),
                "reason": state.reason if state.active(now) else "",
                "ends_at": state.ends_at.isoformat() if state.ends_at else None,
            }
        return checks

    async def _check_database(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.settings.db_pool_timeout_seconds):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                    current = await connection.run_sync(
                        lambda sync: MigrationContext.configure(sync).get_current_revision()
                    )
        except Exception as exc:
            return {"ok": False, "reason": f"unreachable ({type(exc).__name__})"}
        head = head_revision()
        if current != head:
            return {"ok": False, "reason": "not migrated", "revision": current, "expected": head}
        return {"ok": True, "revision": current}

    async def warm_up(self) -> None:
        """Run the evaluator once on the shipped reference documents before taking work.

        Loading the skills lexicon and building indexes then happens at start-up instead of
        inside the first candidate's evaluation, and a broken evaluator shows on ``/readyz``.
        Objects that live for the whole process are then frozen out of the garbage collector's
        scans, which removes long collection pauses from request latency.
        """
        job_description = default_job_description()
        brief = default_case_study_brief()
        request = EvaluationRequest(
            cv=CandidateDocument(text=job_description.text, media_type="text/markdown"),
            project=CandidateDocument(text=brief.text, media_type="text/markdown"),
            job_description=job_description,
            study_case_brief=brief,
            rubric=default_rubric(),
        )
        started = time.perf_counter()
        try:
            with tracing.span("evaluator.self_test"):
                await self.evaluator.evaluate(request)
        except Exception as exc:
            self.self_test = {"ok": False, "reason": f"self-test failed ({type(exc).__name__})"}
            return
        self.self_test = {
            "ok": True,
            "self_test_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        gc.collect()
        gc.freeze()

    def _check_evaluator(self) -> dict[str, Any]:
        identity = {"name": self.evaluator.name, "version": self.evaluator.version}
        try:
            default_rubric()
        except CvEvaluatorError as exc:
            return {"ok": False, "reason": exc.message, **identity}
        return {**self.self_test, **identity}

    def _check_disk(self) -> dict[str, Any]:
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        free_mb = shutil.disk_usage(data_dir).free / (1024 * 1024)
        needed = self.settings.ready_min_free_disk_mb
        return {"ok": free_mb >= needed, "free_mb": round(free_mb, 1), "min_free_mb": needed}

    def start_monitor(self) -> None:
        """Refresh the maintenance checks behind `/metrics` and the admin API in the background."""
        if self.monitor is None or self.settings.maint_monitor_interval_seconds <= 0:
            return
        if self._monitor_task is None:
            self._monitor_task = BackgroundTask(self.monitor.run_forever)
        self._monitor_task.start()

    async def _health_report(self, refresh: bool) -> dict[str, Any]:
        if self.monitor is None:
            raise Unavailable("maintenance checks are not available in this process")
        return await self.monitor.health_document(refresh=refresh)

    def api_context(self) -> ApiContext:
        return ApiContext(
            uploads=self.uploads,
            evaluations=self.evaluations,
            results=self.results,
            metrics=self.metrics,
            readiness=self.readiness,
            max_file_bytes=self.settings.max_upload_bytes,
            max_json_bytes=self.settings.max_reference_chars * 3 * _JSON_BODY_LIMIT_FACTOR + 4096,
            result_cache=CompletedResultCache(self.settings.app_result_cache_size),
            admin_token=(
                self.settings.admin_token.get_secret_value() if self.settings.admin_token else None
            ),
            health_report=self._health_report,
            maintenance=self.maintenance,
            gate=self.gate,
            queue=queue_info(self.settings),
        )

    async def start(self) -> None:
        """Connect what must be connected before serving (the broker, for the Kafka queue)."""
        if isinstance(self.queue, KafkaJobQueue):
            await self.queue.start()

    async def close(self) -> None:
        if self._monitor_task is not None:
            assert self.monitor is not None
            self.monitor.request_stop()
            # Checks hold broker and database clients; let the one under way close them.
            await self._monitor_task.stop(grace=self.settings.maint_check_timeout_seconds)
        for pool in self.pools:
            await pool.stop()
        self.pools.clear()
        if self.callbacks is not None:
            await self.callbacks.stop()
        if isinstance(self.queue, KafkaJobQueue):
            await self.queue.stop()
        if self.notifications is not None:
            await self.notifications.stop()
        if isinstance(self.evaluator, ProcessPoolEvaluator):
            await asyncio.to_thread(self.evaluator.close)
        await self.engine.dispose()


def build_queue(
    settings: Settings, ledger: SqlJobLedger, clock: Clock
) -> tuple[DbJobQueue | KafkaJobQueue, PgJobNotifications | None]:
    if settings.queue_backend is QueueBackend.KAFKA:
        kafka = KafkaSettings(
            brokers=settings.kafka_brokers,
            topic=settings.kafka_topic,
            dead_letter_topic=settings.kafka_dead_letter_topic,
            group=settings.kafka_consumer_group,
            partitions=settings.kafka_partitions,
            retention_hours=settings.kafka_retention_hours,
            lease_seconds=settings.job_lease_seconds,
            sweep_interval_seconds=settings.kafka_sweep_interval_seconds,
            republish_after_seconds=settings.kafka_republish_after_seconds,
        )
        return KafkaJobQueue(ledger, clock, kafka), None
    notifications: PgJobNotifications | None = None
    if not is_sqlite(settings.database_url):
        notifications = PgJobNotifications(settings.database_url, lambda: queue.wake())
    queue = DbJobQueue(
        ledger,
        clock,
        lease_seconds=settings.job_lease_seconds,
        broadcast=notifications.send if notifications is not None else None,
    )
    return queue, notifications


def build_callbacks(
    settings: Settings, engine: AsyncEngine, uow: SqlUnitOfWorkFactory, clock: Clock
) -> CallbackDispatcher | None:
    if settings.app_webhook_secret is None:
        return None
    return CallbackDispatcher(
        SqlCallbackOutbox(engine),
        ResultService(uow),
        clock,
        secret=settings.app_webhook_secret.get_secret_value().encode(),
        allowed_hosts=parse_allowed_hosts(settings.app_callback_allowed_hosts),
        timeout_seconds=settings.app_callback_timeout_seconds,
        retry_base_seconds=settings.app_callback_retry_base_seconds,
        retry_window_seconds=settings.app_callback_retry_window_seconds,
    )


def build_ops_context(
    settings: Settings, *, actor: str = "cli", clock: Clock | None = None
) -> OpsContext:
    """What maintenance checks and tasks run with; its engine is the caller's to dispose."""
    engine = make_async_engine(
        settings.database_url,
        busy_timeout_ms=settings.db_busy_timeout_ms,
        pool_size=2,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    return OpsContext(settings=settings, clock=clock or SystemClock(), engine=engine, actor=actor)


def build_maintenance(
    engine: AsyncEngine, ledger: SqlJobLedger, clock: Clock
) -> tuple[MaintenanceService, MaintenanceGate]:
    """Maintenance mode over the database: the use cases and the gate new work consults."""
    store = SqlMaintenanceStore(engine)
    return (
        MaintenanceService(store, clock, in_flight=_in_flight(ledger)),
        MaintenanceGate(store, clock),
    )


def build_probe(settings: Settings) -> ServiceProbe:
    """The running service over HTTP (MAINT_BASE_URL), as windows, drills and checklists see it."""
    # Imported here: `serve` builds the runtime through this module and never needs these.
    from cv_evaluator.ops.probe import ServiceProbe

    return ServiceProbe(
        settings.service_base_url, timeout_seconds=settings.maint_http_timeout_seconds
    )


def build_mode_service(ctx: OpsContext) -> MaintenanceService:
    service, _gate = build_maintenance(ctx.engine, SqlJobLedger(ctx.engine), ctx.clock)
    return service


def build_window(
    ctx: OpsContext, schedule: Schedule, *, monitor_minutes: int, dry_run: bool
) -> MaintenanceWindow:
    from cv_evaluator.ops.window import MaintenanceWindow, WindowOptions

    return MaintenanceWindow(
        ctx,
        schedule,
        mode=build_mode_service(ctx),
        probe=build_probe(ctx.settings),
        options=WindowOptions.from_settings(ctx, monitor_minutes=monitor_minutes, dry_run=dry_run),
    )


def _in_flight(ledger: SqlJobLedger) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return (await ledger.count_by_status()).get("processing", 0)

    return count


class MaintenanceModeCollector(Collector):
    """`cv_evaluator_maintenance_mode`: 1 while maintenance mode is on, as this process last saw."""

    def __init__(self, gate: MaintenanceGate, clock: Clock) -> None:
        self._gate = gate
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self._gate.last_known
        yield GaugeMetricFamily(
            "cv_evaluator_maintenance_mode",
            "1 while maintenance mode is on (new work refused), else 0.",
            value=1.0 if state.active(self._clock.now()) else 0.0,
        )
        if state.active(self._clock.now()) and state.started_at is not None:
            yield GaugeMetricFamily(
                "cv_evaluator_maintenance_mode_started_timestamp_seconds",
                "When the current maintenance mode started (Unix time).",
                value=state.started_at.timestamp(),
            )
            if state.ends_at is not None:
                yield GaugeMetricFamily(
                    "cv_evaluator_maintenance_mode_planned_end_timestamp_seconds",
                    "When the current maintenance mode is planned to end (Unix time).",
                    value=state.ends_at.timestamp(),
                )


def build_monitor(settings: Settings, engine: AsyncEngine, clock: Clock) -> HealthMonitor:
    """The API's view of the maintenance checks; a bad selection or schedule fails start-up."""
    checks = select_checks(split_patterns(settings.maint_monitor_checks))
    context = OpsContext(settings=settings, clock=clock, engine=engine, actor="api-monitor")
    return HealthMonitor(context, checks, load_schedules(settings.maint_schedules_file))


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    engine = make_async_engine(
        settings.database_url,
        busy_timeout_ms=settings.db_busy_timeout_ms,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    metrics = ServiceMetrics(revision=build_revision(settings.app_git_revision))
    uow = SqlUnitOfWorkFactory(engine)
    ledger = SqlJobLedger(engine)
    queue, notifications = build_queue(settings, ledger, clock)
    allowed_hosts = parse_allowed_hosts(settings.app_callback_allowed_hosts)
    evaluator = build_evaluator(settings)
    monitor = build_monitor(settings, engine, clock)
    metrics.registry.register(monitor.collector())
    maintenance, gate = build_maintenance(engine, ledger, clock)
    metrics.registry.register(MaintenanceModeCollector(gate, clock))
    blobs = FileBlobStore(settings.data_dir / "uploads")
    processor = JobProcessor(
        ledger,
        evaluator,
        JobRequestLoader(uow),
        clock,
        ProcessorSettings(
            lease_seconds=settings.job_lease_seconds,
            timeout_seconds=settings.job_timeout_seconds,
            retry_base_seconds=settings.job_retry_base_seconds,
            retry_max_seconds=settings.job_retry_max_seconds,
        ),
        metrics,
        dead_letters=queue.dead_letter if isinstance(queue, KafkaJobQueue) else None,
        queue=queue_info(settings),
    )
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        metrics=metrics,
        uow=uow,
        ledger=ledger,
        queue=queue,
        evaluator=evaluator,
        uploads=UploadService(
            uow, blobs, DocumentReader(max_pages=settings.max_document_pages), clock
        ),
        evaluations=EvaluationService(
            uow,
            queue,
            clock,
            rubric_loader=load_rubric,
            max_reference_chars=settings.max_reference_chars,
            max_attempts=settings.job_max_attempts,
            callbacks_enabled=settings.app_webhook_secret is not None,
            callback_allowed_hosts=allowed_hosts,
        ),
        results=ResultService(uow),
        processor=processor,
        notifications=notifications,
        callbacks=build_callbacks(settings, engine, uow, clock),
        monitor=monitor,
        maintenance=maintenance,
        gate=gate,
    )


def build_app(runtime: Runtime, *, workers: int | None = None) -> FastAPI:
    """The HTTP app; its lifespan starts ``workers`` in-process workers and closes the runtime."""
    concurrency = runtime.settings.app_workers if workers is None else workers

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if concurrency > 0:
            await runtime.warm_up()
            runtime.worker_pool(concurrency).start()
        runtime.start_monitor()
        try:
            yield
        finally:
            await runtime.close()

    return create_app(runtime.api_context(), lifespan=lifespan)
