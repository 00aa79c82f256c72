"""Tracing through the real service: one trace from the request, through the queue, to the worker.

The app runs with in-process workers on a real database (and Kafka), tracing into the SDK's
in-memory exporter.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cv_evaluator.bootstrap import Runtime, build_runtime, setup_tracing
from cv_evaluator.config import QueueBackend, Settings
from cv_evaluator.domain.evaluation import CandidateDocument, EvaluationRequest
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.domain.jobs import EvaluationInputs, Job, JobStatus
from cv_evaluator.evaluation.references import default_case_study_brief, default_job_description
from cv_evaluator.evaluation.rubric import default_rubric
from cv_evaluator.observability import tracing
from cv_evaluator.queue.kafka import KafkaJobQueue
from cv_evaluator.service.uploads import IncomingFile
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.worker.offload import ProcessPoolEvaluator
from tests.integration.api_helpers import serving, upload_texts, wait_for_terminal
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.kafka_server import KafkaServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
EMAIL = "maya.lindqvist@example.com"
assert EMAIL in SAMPLE_CV_TEXT
# Lines of the candidate's documents that must never reach a span.
DOCUMENT_LINES = [
    line.strip()
    for line in (SAMPLE_CV_TEXT + SAMPLE_PROJECT_TEXT).splitlines()
    if len(line.strip()) > 30
]
STEPS = [
    "evaluation.prepare",
    "evaluation.retrieve",
    "evaluation.score_cv",
    "evaluation.score_project",
    "evaluation.feedback",
]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure(endpoint=None, role="api", processor=SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.shutdown()


@pytest.fixture
def runtime(spans: InMemorySpanExporter, runtime: Runtime) -> Runtime:
    # Tracing is on (``spans`` first) before the runtime is built: its engine is instrumented
    # as it is made.
    return runtime


def kafka_settings(settings: Settings, kafka: KafkaServer) -> Settings:
    name = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "queue_backend": QueueBackend.KAFKA,
            "kafka_brokers": kafka.bootstrap_servers,
            "kafka_topic": f"traced-{name}",
            "kafka_dead_letter_topic": f"traced-{name}.dlq",
            "kafka_consumer_group": f"traced-{name}",
            "kafka_partitions": 1,
            "kafka_sweep_interval_seconds": 0.3,
        }
    )


# --- reading the exported spans


def trace_hex(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else int(span.parent.span_id)


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def only(found: Sequence[ReadableSpan], what: str) -> ReadableSpan:
    assert len(found) == 1, f"{what}: {[s.name for s in found]}"
    return found[0]


async def finished(exporter: InMemorySpanExporter, name: str, timeout: float = 20) -> None:
    """Wait until a span of that name has ended (the worker ends its span after the job row
    says completed, so the result alone does not say the span is there)."""
    async with asyncio.timeout(timeout):
        while not any(s.name == name for s in exporter.get_finished_spans()):
            await asyncio.sleep(0.02)


async def traced_evaluation(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter, process_name: str
) -> tuple[str, list[ReadableSpan]]:
    """Upload → evaluate (continuing the caller's trace) → result; the spans of that trace."""
    ids = await upload_texts(client)
    response = await client.post(
        "/v1/evaluate", json=ids, headers={"traceparent": TRACEPARENT, "X-Request-ID": "trace-req"}
    )
    assert response.status_code == 200, response.text
    job_id: str = response.json()["id"]
    assert (await wait_for_terminal(client, job_id))["status"] == "completed"
    await finished(exporter, process_name)
    return job_id, [s for s in exporter.get_finished_spans() if trace_hex(s) == TRACE_ID]


def assert_one_trace_from_request_to_worker(
    trace: list[ReadableSpan], job_id: str, queue: tracing.QueueInfo, backend: str
) -> None:
    by_id = {span_id(s): s for s in trace}

    server = only([s for s in trace if s.kind is SpanKind.SERVER], "server spans")
    assert server.name == "POST /v1/evaluate"
    assert attributes(server)["http.route"] == "/v1/evaluate"
    assert attributes(server)["http.request.method"] == "POST"
    assert attributes(server)["http.response.status_code"] == 200
    assert attributes(server)["cv_evaluator.request_id"] == "trace-req"
    assert f"{parent_id(server):016x}" == TRACEPARENT.split("-")[2]  # the caller's span

    publish = only([s for s in trace if s.kind is SpanKind.PRODUCER], "publish spans")
    assert publish.name == f"publish {queue.destination}"
    assert parent_id(publish) == span_id(server)
    assert attributes(publish)["messaging.message.id"] == job_id
    assert attributes(publish)["messaging.system"] == queue.system

    process = only([s for s in trace if s.kind is SpanKind.CONSUMER], "process spans")
    assert process.name == f"process {queue.destination}"
    assert parent_id(process) == span_id(publish)
    assert attributes(process)["messaging.message.id"] == job_id
    assert attributes(process)["cv_evaluator.request_id"] == "trace-req"

    def under(span: ReadableSpan, ancestor: ReadableSpan) -> bool:
        current: ReadableSpan | None = span
        while current is not None:
            if parent_id(current) == span_id(ancestor):
                return True
            current = by_id.get(parent_id(current) or 0)
        return False

    statements = [s for s in trace if s.kind is SpanKind.CLIENT]
    assert {attributes(s)["db.system"] for s in statements} == {backend}
    # The job row is written inside the publish span and the outcome inside the process span.
    assert any(s.name == "INSERT" and parent_id(s) == span_id(publish) for s in statements)
    assert any(s.name == "UPDATE" and under(s, process) for s in statements)

    evaluate = only([s for s in trace if s.name == "evaluation.evaluate"], "evaluate spans")
    assert parent_id(evaluate) == span_id(process)
    load = only([s for s in trace if s.name == "evaluation.load_request"], "load spans")
    assert parent_id(load) == span_id(process)
    steps = [s for s in trace if s.name in STEPS]
    assert [s.name for s in steps] == STEPS
    assert all(parent_id(step) == span_id(evaluate) for step in steps)


def assert_no_personal_data(exporter: InMemorySpanExporter) -> None:
    for span in exporter.get_finished_spans():
        exported = span.to_json()
        assert EMAIL not in exported, span.name
        for line in DOCUMENT_LINES:
            assert line not in exported, (span.name, line)


# --- the database queue (SQLite and PostgreSQL)


async def test_one_trace_covers_request_queue_and_worker(
    client: httpx.AsyncClient, spans: InMemorySpanExporter, backend: str
) -> None:
    job_id, trace = await traced_evaluation(client, spans, "process jobs")
    assert_one_trace_from_request_to_worker(trace, job_id, tracing.DB_QUEUE, backend)
    # Reading the result is its own request, traced with its route template.
    results = [s for s in spans.get_finished_spans() if s.name == "GET /v1/result/{job_id}"]
    assert results and all(s.kind is SpanKind.SERVER for s in results)
    uploads = [s for s in spans.get_finished_spans() if s.name == "POST /v1/upload"]
    assert len(uploads) == 1
    assert_no_personal_data(spans)


async def test_the_job_row_carries_the_publish_spans_context(
    client: httpx.AsyncClient, runtime: Runtime, spans: InMemorySpanExporter
) -> None:
    ids = await upload_texts(client)
    job_id = (await client.post("/v1/evaluate", json=ids)).json()["id"]
    async with runtime.uow() as uow:
        job = await uow.jobs.get(job_id)
    assert job is not None and job.trace_context is not None
    await finished(spans, "process jobs")
    publish = only(
        [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER], "publish"
    )
    assert job.trace_context["traceparent"].split("-")[1:3] == [
        trace_hex(publish),
        f"{span_id(publish):016x}",
    ]


async def test_with_tracing_off_nothing_is_recorded_or_stored(settings: Settings) -> None:
    exporter = InMemorySpanExporter()
    tracing.configure(endpoint=None, role="api", processor=SimpleSpanProcessor(exporter))
    tracing.shutdown()  # on, then off again: the state a process without an endpoint is in
    async for runtime, client in serving(settings):
        ids = await upload_texts(client)
        job_id = (await client.post("/v1/evaluate", json=ids)).json()["id"]
        assert (await wait_for_terminal(client, job_id))["status"] == "completed"
        async with runtime.uow() as uow:
            job = await uow.jobs.get(job_id)
        assert job is not None and job.trace_context is None
    assert exporter.get_finished_spans() == ()


# --- Kafka


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_one_trace_over_kafka(
    settings: Settings, kafka: KafkaServer, spans: InMemorySpanExporter
) -> None:
    traced = kafka_settings(settings, kafka)
    queue = tracing.QueueInfo("kafka", traced.kafka_topic)
    async for _runtime, client in serving(traced):
        job_id, trace = await traced_evaluation(client, spans, f"process {traced.kafka_topic}")
    assert_one_trace_from_request_to_worker(trace, job_id, queue, "sqlite")
    assert_no_personal_data(spans)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_kafka_messages_carry_the_trace_context_in_their_headers(
    settings: Settings, kafka: KafkaServer, spans: InMemorySpanExporter
) -> None:
    traced = kafka_settings(settings, kafka)
    upgrade(traced.database_url)
    runtime = build_runtime(traced)
    queue = runtime.queue
    assert isinstance(queue, KafkaJobQueue)
    try:
        # Topics only: the outbox sweeper would publish the row on its own, without a context.
        await queue.ensure_topics()
        cv, project = await runtime.uploads.upload(
            IncomingFile("cv", "cv.txt", SAMPLE_CV_TEXT.encode()),
            IncomingFile("project", "project.md", SAMPLE_PROJECT_TEXT.encode()),
        )
        now = runtime.clock.now()
        # A row without a trace context: whatever the worker gets came in the message headers.
        job = Job(
            id=new_id(IdKind.JOB),
            status=JobStatus.QUEUED,
            inputs=EvaluationInputs(cv_id=cv.id, project_id=project.id),
            created_at=now,
            updated_at=now,
            available_at=now,
        )
        async with runtime.uow() as uow:
            await uow.jobs.add(job)
            await uow.commit()
        with tracing.span("producer") as producer:
            await queue.publish(job.id)
        delivered = await queue.next_job("w1", timeout=30)
        assert delivered is not None and delivered.id == job.id
        assert delivered.trace_context is not None
        context = producer.get_span_context()
        assert delivered.trace_context["traceparent"].split("-")[1:3] == [
            f"{context.trace_id:032x}",
            f"{context.span_id:016x}",
        ]
        await queue.done(delivered)
    finally:
        await runtime.close()


# --- the evaluator in a process pool (the default)


async def test_steps_run_in_a_process_pool_are_traced_in_the_parent(
    spans: InMemorySpanExporter,
) -> None:
    request = EvaluationRequest(
        cv=CandidateDocument(SAMPLE_CV_TEXT, "text/plain"),
        project=CandidateDocument(SAMPLE_PROJECT_TEXT, "text/plain"),
        job_description=default_job_description(),
        study_case_brief=default_case_study_brief(),
        rubric=default_rubric(),
    )
    pool = ProcessPoolEvaluator(1)
    try:
        with tracing.span("evaluate") as evaluate:
            await pool.evaluate(request)
    finally:
        pool.close()
    steps = [s for s in spans.get_finished_spans() if s.name in STEPS]
    assert [s.name for s in steps] == STEPS
    assert all(parent_id(s) == evaluate.get_span_context().span_id for s in steps)
    assert all(s.start_time is not None and s.end_time is not None for s in steps)
    assert [s.start_time for s in steps] == sorted(s.start_time or 0 for s in steps)


# --- export over OTLP/HTTP


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_an_endpoint_turns_on_export_over_otlp_http(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = Settings(
            data_dir=tmp_path,
            otel_exporter_otlp_endpoint=f"http://127.0.0.1:{server.server_port}/",
            otel_service_name="cv-test",
        )
        assert setup_tracing(settings, "worker")
        with tracing.span("exported", job="job_1"):
            pass
        tracing.shutdown()  # flushes the batch, as at process exit
    finally:
        tracing.shutdown()
        server.shutdown()
        server.server_close()
        thread.join()
    ((path, content_type, body),) = _Collector.received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "cv-test"
    assert resource["cv_evaluator.process.role"] == "worker"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert names == ["exported"]
