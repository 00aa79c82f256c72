"""Tracing helpers against the SDK's in-memory exporter: names, attributes, parents, off mode."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import create_engine, text

from cv_evaluator import __version__
from cv_evaluator.config import Settings
from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.errors import EvaluationFailed, NotFound
from cv_evaluator.domain.evaluation import CandidateDocument, EvaluationRequest
from cv_evaluator.evaluation import (
    LocalEvaluator,
    default_case_study_brief,
    default_job_description,
    default_rubric,
)
from cv_evaluator.observability import tracing
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.service.requests import JobRequestLoader
from cv_evaluator.worker.processor import JobProcessor, ProcessorSettings
from tests.support.builders import T0, make_job, make_upload
from tests.support.fakes import InMemoryJobLedger, InMemoryUnitOfWorkFactory, ScriptedEvaluator
from tests.unit.evaluation.samples import STRONG_CV, STRONG_REPORT

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
EMAIL = "maya.lindqvist@example.com"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure(endpoint=None, role="test", processor=SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.shutdown()


def strong_request() -> EvaluationRequest:
    return EvaluationRequest(
        cv=CandidateDocument(STRONG_CV, "text/markdown"),
        project=CandidateDocument(STRONG_REPORT, "text/markdown"),
        job_description=default_job_description(),
        study_case_brief=default_case_study_brief(),
        rubric=default_rubric(),
    )


def named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    matches = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(matches) == 1, [s.name for s in exporter.get_finished_spans()]
    return matches[0]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


# --- off by default


def test_without_an_endpoint_tracing_stays_off_and_starts_no_thread() -> None:
    threads = threading.active_count()
    assert tracing.configure(endpoint=None, role="api") is False
    assert tracing.configure(endpoint="", role="api") is False
    assert not tracing.enabled()
    assert threading.active_count() == threads
    with tracing.span("anything", key="value") as current:
        assert not current.is_recording()
    assert tracing.inject() == {}
    assert tracing.extract({"traceparent": TRACEPARENT}) is None
    assert tracing.kafka_headers() is None
    assert tracing.start_http_server_span("GET", "/healthz", {}, "rid") is None


def test_the_standard_switch_keeps_it_off_even_with_an_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.configure(endpoint="http://127.0.0.1:4318", role="api") is False
    assert not tracing.enabled()


def test_nothing_is_recorded_once_tracing_is_shut_down() -> None:
    exporter = InMemorySpanExporter()
    tracing.configure(endpoint=None, role="test", processor=SimpleSpanProcessor(exporter))
    tracing.shutdown()
    engine = create_engine("sqlite://")
    tracing.instrument_engine(engine)  # off: installs nothing
    with tracing.span("after"), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with tracing.process_span(
        tracing.DB_QUEUE, "job_1", {"traceparent": TRACEPARENT}, attempt=1, request_id=None
    ):
        tracing.record_steps([("prepare", 1, 2)])
    assert exporter.get_finished_spans() == ()


# --- spans


def test_a_span_has_its_name_attributes_resource_and_parent(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("outer", {"http.route": "/x"}, plain=3), tracing.span("inner"):
        pass
    outer, inner = named(spans, "outer"), named(spans, "inner")
    assert dict(outer.attributes or {}) == {"http.route": "/x", "plain": 3}
    assert parent_id(inner) == span_id(outer)
    resource = dict(outer.resource.attributes)
    assert resource["service.name"] == "ai-cv-evaluator"
    assert resource["service.version"] == __version__
    assert resource["cv_evaluator.process.role"] == "test"


def test_an_exception_marks_the_span_with_its_type_or_code_never_its_message(
    spans: InMemorySpanExporter,
) -> None:
    with pytest.raises(ValueError, match="secret"), tracing.span("plain"):
        raise ValueError(f"input was {EMAIL} secret")
    with pytest.raises(NotFound), tracing.span("domain"):
        raise NotFound(f"no upload for {EMAIL}")
    plain, domain = named(spans, "plain"), named(spans, "domain")
    assert plain.status.status_code is StatusCode.ERROR
    assert (plain.attributes or {})["error.type"] == "ValueError"
    assert (domain.attributes or {})["error.type"] == "NOT_FOUND"
    for span in (plain, domain):
        assert span.events == ()  # no exception event: its message may quote the input
        assert EMAIL not in str(span.status.description)


def test_the_service_name_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    tracing.configure(
        endpoint=None,
        role="worker",
        service_name="screening-eu",
        processor=SimpleSpanProcessor(exporter),
    )
    try:
        with tracing.span("x"):
            pass
    finally:
        tracing.shutdown()
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "screening-eu"
    assert span.resource.attributes["cv_evaluator.process.role"] == "worker"


def test_sampling_follows_the_standard_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    exporter = InMemorySpanExporter()
    tracing.configure(endpoint=None, role="api", processor=SimpleSpanProcessor(exporter))
    try:
        with tracing.span("dropped") as current:
            assert not current.is_recording()
    finally:
        tracing.shutdown()
    assert exporter.get_finished_spans() == ()


# --- propagation


def test_inject_and_extract_round_trip(spans: InMemorySpanExporter) -> None:
    with tracing.span("producer"):
        carrier = tracing.inject()
    assert set(carrier) == {"traceparent"}
    with tracing.span("elsewhere"), tracing.span("consumer", parent=tracing.extract(carrier)):
        pass
    producer, consumer = named(spans, "producer"), named(spans, "consumer")
    assert trace_id(consumer) == trace_id(producer)
    assert parent_id(consumer) == span_id(producer)


def test_kafka_headers_carry_the_same_context(spans: InMemorySpanExporter) -> None:
    with tracing.span("producer"):
        headers = tracing.kafka_headers()
        expected = tracing.inject()
    assert headers is not None
    assert all(isinstance(value, bytes) for _name, value in headers)
    other = [("unrelated", b"x")]
    assert tracing.carrier_from_headers([*other, *headers]) == expected
    assert tracing.carrier_from_headers(None) == {}


# --- HTTP


def test_http_server_span_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    server = tracing.start_http_server_span(
        "POST", "/v1/evaluate", {b"traceparent": TRACEPARENT.encode()}, "req-1"
    )
    assert server is not None
    with tracing.span("handler"):
        pass
    server.end("/v1/evaluate", 200)
    assert not trace.get_current_span().is_recording()  # the request's context is detached
    span, handler = named(spans, "POST /v1/evaluate"), named(spans, "handler")
    assert span.kind is SpanKind.SERVER
    assert f"{trace_id(span):032x}" == TRACEPARENT.split("-")[1]
    assert f"{parent_id(span):016x}" == TRACEPARENT.split("-")[2]
    assert parent_id(handler) == span_id(span)
    assert dict(span.attributes or {}) == {
        "http.request.method": "POST",
        "url.path": "/v1/evaluate",
        "cv_evaluator.request_id": "req-1",
        "http.route": "/v1/evaluate",
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET


def test_http_server_errors_and_unmatched_routes(spans: InMemorySpanExporter) -> None:
    failing = tracing.start_http_server_span("GET", "/v1/result/job_1", {}, "r1")
    assert failing is not None
    failing.end("/v1/result/{job_id}", 503)
    unmatched = tracing.start_http_server_span("GET", "/nowhere", {}, "r2")
    assert unmatched is not None
    unmatched.end(None, 404)
    error = named(spans, "GET /v1/result/{job_id}")
    assert error.status.status_code is StatusCode.ERROR
    assert (error.attributes or {})["error.type"] == "503"
    assert error.parent is None  # no traceparent: a trace of its own
    plain = named(spans, "GET")
    assert "http.route" not in (plain.attributes or {})
    assert plain.status.status_code is StatusCode.UNSET


# --- database


def test_statements_get_client_spans_without_their_parameters(
    spans: InMemorySpanExporter,
) -> None:
    engine = create_engine("sqlite://")
    tracing.instrument_engine(engine)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # outside any span: not traced
        with tracing.span("work"):
            connection.execute(text("CREATE TABLE people (email TEXT)"))
            connection.execute(text("INSERT INTO people VALUES (:email)"), {"email": EMAIL})
            connection.execute(text("  select email from people where email = :e"), {"e": EMAIL})
            with pytest.raises(Exception, match="no such table"):
                connection.execute(text("SELECT * FROM missing"))
    work = named(spans, "work")
    statements = [s for s in spans.get_finished_spans() if s.name != "work"]
    assert [s.name for s in statements] == ["CREATE", "INSERT", "SELECT", "SELECT"]
    for statement in statements:
        attributes = dict(statement.attributes or {})
        assert statement.kind is SpanKind.CLIENT
        assert parent_id(statement) == span_id(work)
        assert attributes["db.system"] == "sqlite"
        assert attributes["db.operation"] == statement.name
        assert EMAIL not in str(attributes)
    assert (statements[2].attributes or {})["db.statement"] == (
        "select email from people where email = ?"
    )
    assert statements[3].status.status_code is StatusCode.ERROR
    assert (statements[3].attributes or {})["error.type"] == "OperationalError"


def test_long_statements_are_cut(spans: InMemorySpanExporter) -> None:
    engine = create_engine("sqlite://")
    tracing.instrument_engine(engine)
    columns = ", ".join(f"{i} AS c{i}" for i in range(200))
    with engine.connect() as connection, tracing.span("work"):
        connection.execute(text(f"SELECT {columns}"))
    (statement,) = [s for s in spans.get_finished_spans() if s.name == "SELECT"]
    assert len(str((statement.attributes or {})["db.statement"])) == 256


# --- queue


def test_the_process_span_is_a_child_of_the_publish_span(spans: InMemorySpanExporter) -> None:
    queue = tracing.QueueInfo("kafka", "evaluate-jobs")
    with tracing.publish_span(queue):
        carrier = tracing.inject()
    with (
        tracing.span("worker loop"),
        tracing.process_span(queue, "job_1", carrier, attempt=2, request_id="req-9"),
    ):
        pass
    publish = named(spans, "publish evaluate-jobs")
    process = named(spans, "process evaluate-jobs")
    assert publish.kind is SpanKind.PRODUCER and process.kind is SpanKind.CONSUMER
    assert trace_id(process) == trace_id(publish)
    assert parent_id(process) == span_id(publish)
    assert dict(process.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.destination.name": "evaluate-jobs",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.message.id": "job_1",
        "cv_evaluator.job.attempt": 2,
        "cv_evaluator.request_id": "req-9",
    }


def test_a_job_without_a_trace_context_starts_its_own_trace(
    spans: InMemorySpanExporter,
) -> None:
    with (
        tracing.span("worker loop"),
        tracing.process_span(tracing.DB_QUEUE, "job_1", None, attempt=1, request_id=None),
    ):
        pass
    process = named(spans, "process jobs")
    assert process.parent is None
    assert trace_id(process) != trace_id(named(spans, "worker loop"))


class Processing:
    def __init__(self, evaluator: ScriptedEvaluator, trace_context: dict[str, str]) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.ledger = InMemoryJobLedger(self.uow.db)
        self.clock = ManualClock(T0)
        self.processor = JobProcessor(
            self.ledger,
            evaluator,
            JobRequestLoader(self.uow),
            self.clock,
            ProcessorSettings(
                lease_seconds=30, timeout_seconds=5, retry_base_seconds=2, retry_max_seconds=60
            ),
            ServiceMetrics(),
            queue=tracing.DB_QUEUE,
        )
        cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
        self.job = replace(make_job(cv, project), trace_context=trace_context)
        self.uow.db.uploads.update({cv.id: cv, project.id: project})
        self.uow.db.jobs[self.job.id] = self.job

    async def run_once(self) -> None:
        now = self.clock.now()
        job = await self.ledger.claim_next("w", now, now + timedelta(seconds=30))
        assert job is not None
        await self.processor.process(job, "w")


async def test_the_worker_traces_each_attempt_under_the_publish_span(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.publish_span(tracing.DB_QUEUE) as publish:
        carrier = tracing.inject()
    harness = Processing(ScriptedEvaluator(), carrier)
    await harness.run_once()
    process = named(spans, "process jobs")
    assert parent_id(process) == publish.get_span_context().span_id
    assert (process.attributes or {})["messaging.message.id"] == harness.job.id
    assert process.status.status_code is StatusCode.UNSET
    load, evaluate = named(spans, "evaluation.load_request"), named(spans, "evaluation.evaluate")
    assert parent_id(load) == parent_id(evaluate) == span_id(process)
    assert (evaluate.attributes or {})["cv_evaluator.evaluator.name"] == "scripted"


async def test_a_failed_attempt_marks_its_span_with_the_error_code(
    spans: InMemorySpanExporter,
) -> None:
    failure = EvaluationFailed(f"cannot score the CV of {EMAIL}")
    harness = Processing(ScriptedEvaluator([failure]), {"traceparent": TRACEPARENT})
    await harness.run_once()
    process = named(spans, "process jobs")
    evaluate = named(spans, "evaluation.evaluate")
    assert f"{trace_id(process):032x}" == TRACEPARENT.split("-")[1]
    for span in (process, evaluate):
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == failure.code.value
        assert EMAIL not in str(span.status.description)


# --- evaluation steps


def test_the_evaluator_reports_its_steps_in_order(spans: InMemorySpanExporter) -> None:
    evaluator = LocalEvaluator(step=tracing.evaluation_step)
    with tracing.span("evaluate"):
        evaluator.evaluate_sync(strong_request())
    evaluate = named(spans, "evaluate")
    steps = [s for s in spans.get_finished_spans() if s.name.startswith("evaluation.")]
    assert [s.name for s in steps] == [
        "evaluation.prepare",
        "evaluation.retrieve",
        "evaluation.score_cv",
        "evaluation.score_project",
        "evaluation.feedback",
    ]
    assert all(parent_id(step) == span_id(evaluate) for step in steps)


def test_the_steps_change_no_score() -> None:
    request = strong_request()
    seen: list[str] = []

    def step(name: str) -> contextlib.AbstractContextManager[object]:
        seen.append(name)
        return contextlib.nullcontext()

    plain = LocalEvaluator().evaluate_sync(request).as_dict()
    stepped = LocalEvaluator().evaluate_sync(request, step=step).as_dict()
    for outcome in (plain, stepped):
        outcome["receipt"].pop("duration_ms")
    assert stepped == plain
    assert seen == ["prepare", "retrieve", "score_cv", "score_project", "feedback"]


def test_steps_timed_elsewhere_become_child_spans(spans: InMemorySpanExporter) -> None:
    step, timings = tracing.step_recorder()
    with step("prepare"):
        pass
    with tracing.span("evaluate"):
        tracing.record_steps(timings)
    evaluate, prepare = named(spans, "evaluate"), named(spans, "evaluation.prepare")
    assert parent_id(prepare) == span_id(evaluate)
    ((_name, started, ended),) = timings
    assert (prepare.start_time, prepare.end_time) == (started, ended)


# --- settings


def test_the_standard_variable_names_configure_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:pw@collector:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "screening")
    settings = Settings()
    assert settings.otel_exporter_otlp_endpoint == "http://user:pw@collector:4318"
    assert settings.otel_service_name == "screening"
    assert settings.effective()["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://user:***@collector:4318"
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert Settings().otel_exporter_otlp_endpoint is None  # off by default
