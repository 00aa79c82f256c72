"""Every metric the service declares is emitted on a real path, and nothing counts the wrong thing.

One realistic session against the real app (in-process worker, real database): uploads, a
completed evaluation, an idempotent replay, a client error, an attempt that fails and is retried,
a job that fails for good, a maintenance run on record, maintenance mode switched on. Then every
family the registry's collectors produce must show a value that only real work could have set,
so a metric declared but never emitted fails here without anybody listing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.domain.errors import EvaluationFailed, TransientEvaluationError
from cv_evaluator.domain.evaluation import EvaluationOutcome, EvaluationRequest
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.ports import Evaluator
from cv_evaluator.ops.runs import MaintenanceLog
from cv_evaluator.service.requests import JobRequestLoader
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.worker.processor import JobProcessor, ProcessorSettings
from tests.integration.api_helpers import upload_texts, wait_for_terminal
from tests.support.documents import SAMPLE_CV_TEXT

OBSERVABILITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
TOKEN = "admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}

HOLD = "MARKER-HOLD-UNTIL-RELEASED"
RETRY_ONCE = "MARKER-FAIL-ONCE-THEN-SCORE"
FAIL = "MARKER-FAIL-FOR-GOOD"

# A gauge of ServiceMetrics whose resting value is its default; its test is its own (below).
AT_REST_BY_DESIGN = {"jobs_processing"}
# Gauges computed at scrape time that have no series until a condition holds which this session
# cannot bring about; each says which. Any other family without a series fails the test.
CONDITIONAL = {
    "cv_evaluator_disk_days_until_full": "a filesystem filling up for long enough to forecast",
}


class MarkedEvaluator:
    """The real evaluator, except for CVs carrying a marker, which fail or wait as scripted."""

    def __init__(self, inner: Evaluator) -> None:
        self._inner = inner
        self._retry_pending = True
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def version(self) -> str:
        return self._inner.version

    async def evaluate(self, request: EvaluationRequest) -> EvaluationOutcome:
        text = request.cv.text
        if FAIL in text:
            raise EvaluationFailed("scripted: the evaluator cannot score this input")
        if RETRY_ONCE in text and self._retry_pending:
            self._retry_pending = False
            raise TransientEvaluationError("scripted: the provider is overloaded")
        if HOLD in text:
            self.holding.set()
            await self.release.wait()
        return await self._inner.evaluate(request)


@pytest.fixture
def coverage_settings(settings: Settings) -> Settings:
    upgrade(settings.database_url)
    return settings.model_copy(
        update={
            "admin_token": SecretStr(TOKEN),
            # Refreshed on demand below, through the admin API.
            "maint_monitor_interval_seconds": 0,
            # A retried attempt is due at once and an idle worker polls often.
            "worker_poll_interval_seconds": 0.05,
            "job_retry_base_seconds": 0.01,
            "job_retry_max_seconds": 0.05,
        }
    )


class Session:
    def __init__(self, runtime: Runtime, http: httpx.AsyncClient, evaluator: MarkedEvaluator):
        self.runtime = runtime
        self.http = http
        self.evaluator = evaluator
        self.idle_polls = 0

    async def scrape(self) -> dict[str, list[Sample]]:
        response = await self.http.get("/metrics")
        assert response.status_code == 200
        return {f.name: f.samples for f in text_string_to_metric_families(response.text)}

    async def value(self, name: str, **labels: str) -> float | None:
        return _value(await self.scrape(), name, **labels)

    async def evaluate(self, cv_text: str, **headers: str) -> str:
        ids = await upload_texts(self.http, cv=cv_text.encode())
        response = await self.http.post("/v1/evaluate", json=ids, headers=headers)
        assert response.status_code == 200, response.text
        job_id: str = response.json()["id"]
        return job_id


@pytest.fixture
async def session(
    coverage_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Session]:
    runtime = build_runtime(coverage_settings)
    evaluator = MarkedEvaluator(runtime.evaluator)
    runtime.processor = JobProcessor(
        runtime.ledger,
        evaluator,
        JobRequestLoader(runtime.uow),
        runtime.clock,
        ProcessorSettings(
            lease_seconds=coverage_settings.job_lease_seconds,
            timeout_seconds=coverage_settings.job_timeout_seconds,
            retry_base_seconds=coverage_settings.job_retry_base_seconds,
            retry_max_seconds=coverage_settings.job_retry_max_seconds,
        ),
        runtime.metrics,
    )
    app = build_app(runtime, workers=1)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        running = Session(runtime, http, evaluator)
        next_job = runtime.queue.next_job

        async def counted(worker_id: str, timeout: float) -> Job | None:
            job = await next_job(worker_id, timeout)
            if job is None:
                running.idle_polls += 1
            return job

        monkeypatch.setattr(runtime.queue, "next_job", counted)
        yield running


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def shows_real_work(family_type: str, name: str, samples: list[Sample]) -> bool:
    if family_type == "counter":
        return any(s.name == f"{name}_total" and s.value > 0 for s in samples)
    if family_type == "histogram":
        return any(s.name == f"{name}_count" and s.value > 0 for s in samples)
    if family_type == "gauge":
        return bool(samples)
    raise AssertionError(f"{name}: no rule yet for metrics of type {family_type}")


async def run_the_session(s: Session) -> dict[str, Any]:
    """Drive every path that should move a metric; returns figures taken along the way."""
    seen: dict[str, Any] = {}
    http = s.http
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/v1/result/job_doesnotexist")).status_code == 404

    # A completed evaluation, then an idempotent replay of the same request.
    ids = await upload_texts(http)
    key = {"Idempotency-Key": "coverage-1"}
    first = (await http.post("/v1/evaluate", json=ids, headers=key)).json()["id"]
    assert (await wait_for_terminal(http, first))["status"] == "completed"
    seen["enqueued_before_replay"] = await s.value("jobs_enqueued_total")
    replay = await http.post("/v1/evaluate", json=ids, headers=key)
    assert replay.status_code == 200 and replay.json()["id"] == first
    seen["enqueued_after_replay"] = await s.value("jobs_enqueued_total")

    # A job caught in the middle: the processing gauge shows it, then goes back down.
    held = await s.evaluate(SAMPLE_CV_TEXT + "\n" + HOLD)
    await asyncio.wait_for(s.evaluator.holding.wait(), 20)
    seen["processing_while_held"] = await s.value("jobs_processing")
    s.evaluator.release.set()
    assert (await wait_for_terminal(http, held))["status"] == "completed"

    # An attempt that fails for a passing reason and succeeds on the next one.
    retried = await s.evaluate(SAMPLE_CV_TEXT + "\n" + RETRY_ONCE)
    done = await wait_for_terminal(http, retried)
    assert done["status"] == "completed", done
    assert len(done["result"]["receipt"]["attempts"]) == 2

    # A job that fails for good.
    failed = await s.evaluate(SAMPLE_CV_TEXT + "\n" + FAIL)
    assert (await wait_for_terminal(http, failed))["status"] == "failed"

    # An idle worker polls many times; no poll is a completed or failed job.
    seen["before_idle"] = await s.scrape()
    polls = s.idle_polls

    async def polled_ten_more_times() -> bool:
        return s.idle_polls >= polls + 10

    await until(polled_ten_more_times, "ten idle polls")
    seen["after_idle"] = await s.scrape()

    # A maintenance run on record, then maintenance mode on, and the checks refreshed.
    ctx = s.runtime.monitor.ctx if s.runtime.monitor is not None else None
    assert ctx is not None
    maintenance_log = MaintenanceLog(ctx)
    run_id = await maintenance_log.start("daily", dry_run=False, before={})
    await maintenance_log.update(
        run_id, status="ok", finished_at=ctx.clock.now() + timedelta(seconds=1)
    )
    started = await http.post(
        "/admin/maintenance/start",
        json={"reason": "metrics coverage", "duration": "10m"},
        headers=ADMIN,
    )
    assert started.status_code == 200, started.text

    async def mode_on() -> bool:
        return await s.value("cv_evaluator_maintenance_mode") == 1.0

    await until(mode_on, "the maintenance-mode gauge to show the mode")
    health = await http.get("/admin/api/health", params={"refresh": "true"}, headers=ADMIN)
    assert health.status_code == 200, health.text
    return seen


async def test_every_declared_metric_is_emitted_by_real_work(session: Session) -> None:
    seen = await run_the_session(session)
    scraped = await session.scrape()
    registry = session.runtime.metrics.registry
    # The registry keeps no public list of its collectors; this mapping is how it knows them.
    collectors = list(registry._collector_to_names)
    assert collectors
    checked: set[str] = set()
    for collector in collectors:
        families = list(collector.collect())
        assert families, f"{type(collector).__name__} emitted no metric at all"
        for family in families:
            assert family.name in scraped, f"{family.name} is not on /metrics"
            checked.add(family.name)
            samples = scraped[family.name]
            if family.name in AT_REST_BY_DESIGN:
                assert samples, family.name
                continue
            if family.name in CONDITIONAL and not samples:
                continue
            assert shows_real_work(family.type, family.name, samples), (
                f"{family.name} ({family.type}) shows no real work: {samples}"
            )
            if isinstance(collector, MetricWrapperBase) and family.type == "gauge":
                # A gauge the service sets itself must have been set, not merely declared.
                assert any(sample.value != 0 for sample in samples), family.name

    labelled = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for samples in scraped.values()
        for sample in samples
    }
    assert ("jobs_failed_total", (("code", "EVALUATION_FAILED"),)) in labelled
    assert ("jobs_retried_total", (("code", "UNAVAILABLE"),)) in labelled
    assert any(
        name == "http_requests_total" and dict(labels)["status"] == "404"
        for name, labels in labelled
    )
    assert any(
        name == "http_requests_total" and dict(labels)["route"] == "/v1/result/{job_id}"
        for name, labels in labelled
    )
    build = [s for s in scraped["cv_evaluator_build_info"] if s.value == 1]
    assert build and build[0].labels["revision"] and build[0].labels["version"]
    # The maintenance gauges the alerts rely on.
    assert {
        "cv_evaluator_maintenance_mode",
        "cv_evaluator_maint_check_status",
        "cv_evaluator_maint_last_success_timestamp_seconds",
        "cv_evaluator_queue_depth",
    } <= checked
    last_success = {
        s.labels["schedule"] for s in scraped["cv_evaluator_maint_last_success_timestamp_seconds"]
    }
    assert "daily" in last_success

    doc = OBSERVABILITY_DOC.read_text(encoding="utf-8")
    # Counter families are named without the `_total` their samples carry.
    undocumented = [n for n in checked if f"`{n}`" not in doc and f"`{n}_total`" not in doc]
    assert not undocumented, f"not in docs/observability.md: {undocumented}"

    # Nothing counted the wrong thing.
    assert seen["enqueued_before_replay"] == 1.0
    assert seen["enqueued_after_replay"] == 1.0
    assert seen["processing_while_held"] == 1.0
    expected = {
        ("jobs_processing", ()): 0.0,
        ("jobs_enqueued_total", ()): 4.0,
        ("jobs_completed_total", ()): 3.0,
        ("jobs_failed_total", (("code", "EVALUATION_FAILED"),)): 1.0,
        ("jobs_retried_total", (("code", "UNAVAILABLE"),)): 1.0,
        ("evaluation_cv_match_rate_count", ()): 3.0,
        ("evaluation_project_score_count", ()): 3.0,
    }
    for (name, labels), value in expected.items():
        assert _value(scraped, name, **dict(labels)) == value, name
    # Five evaluator calls: three first attempts that scored, one retried, one failed.
    assert _total(scraped, "evaluation_duration_seconds_count") == 5.0
    for name in ("jobs_completed_total", "jobs_failed_total", "jobs_retried_total"):
        assert _total(seen["after_idle"], name) == _total(seen["before_idle"], name), name


def _value(scraped: dict[str, list[Sample]], name: str, **labels: str) -> float | None:
    for samples in scraped.values():
        for sample in samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def _total(scraped: dict[str, list[Sample]], name: str) -> float:
    return sum(s.value for samples in scraped.values() for s in samples if s.name == name)
