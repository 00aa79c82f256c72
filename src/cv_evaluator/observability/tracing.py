"""OpenTelemetry tracing: off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Everything that touches OpenTelemetry lives here; the rest of the code calls the small helpers
below. While tracing is off, every helper returns at once (a shared no-op context manager, an
empty carrier), no exporter exists and no background thread runs.

The provider is this module's own, never OpenTelemetry's global one: the global provider can be
set only once per process, and tests set up and tear down tracing many times.

Spans never carry document text, statement parameters, exception messages or e-mail addresses:
only names, ids, stable error codes and the SQL text (which holds placeholders, not values).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from cv_evaluator import __version__
from cv_evaluator.domain.errors import CvEvaluatorError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from sqlalchemy import Engine

__all__ = [
    "DB_QUEUE",
    "DEFAULT_SERVICE_NAME",
    "QueueInfo",
    "StepTiming",
    "carrier_from_headers",
    "configure",
    "enabled",
    "evaluation_step",
    "extract",
    "inject",
    "instrument_engine",
    "kafka_headers",
    "mark_error",
    "process_span",
    "publish_span",
    "record_steps",
    "shutdown",
    "span",
    "start_http_server_span",
    "step_recorder",
]

DEFAULT_SERVICE_NAME = "ai-cv-evaluator"
ROLE_ATTRIBUTE = "cv_evaluator.process.role"
_INSTRUMENTATION_SCOPE = "cv_evaluator"
_STATEMENT_LIMIT = 256
_SPAN_ATTRIBUTE = "_cv_evaluator_span"  # where a statement's span waits for its end

Attributes = Mapping[str, AttributeValue]
StepTiming = tuple[str, int, int]  # step name, start and end (Unix time in nanoseconds)

# W3C Trace Context, whatever OTEL_PROPAGATORS says: the queue carriers must always be readable.
_propagator = TraceContextTextMapPropagator()
_NOOP: contextlib.nullcontext[Span] = contextlib.nullcontext(trace.INVALID_SPAN)


@dataclass(frozen=True, slots=True)
class _State:
    provider: TracerProvider
    tracer: Tracer


_state: _State | None = None
_atexit_registered = False


def configure(
    *,
    endpoint: str | None,
    role: str,
    service_name: str = DEFAULT_SERVICE_NAME,
    processor: SpanProcessor | None = None,
) -> bool:
    """Turn tracing on for this process; True when it is on.

    With an ``endpoint`` (the OTLP/HTTP base URL, as in ``OTEL_EXPORTER_OTLP_ENDPOINT``) spans are
    batched and exported in the background. ``processor`` replaces the exporter (tests pass an
    in-memory one). With neither, or with ``OTEL_SDK_DISABLED=true``, tracing stays off.
    Sampling, batch sizes, export headers and timeouts follow the standard ``OTEL_*`` variables.
    """
    global _state, _atexit_registered
    shutdown()
    if processor is None:
        if not endpoint or _sdk_disabled():
            return False
        processor = _otlp_processor(endpoint)
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create(
        {SERVICE_NAME: service_name, SERVICE_VERSION: __version__, ROLE_ATTRIBUTE: role}
    )
    # Our own exit hook (below) replaces the provider's, so set-ups in tests don't pile up hooks.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(processor)
    _state = _State(provider, provider.get_tracer(_INSTRUMENTATION_SCOPE, __version__))
    if not _atexit_registered:
        atexit.register(shutdown)  # flushes the spans still in the batch on a normal exit
        _atexit_registered = True
    return True


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _otlp_processor(endpoint: str) -> SpanProcessor:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The base URL gets the signal path, as the OTLP specification says; the traces-only
    # variable, when set, is a full URL and wins.
    url = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        endpoint.rstrip("/") + "/v1/traces"
    )
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=url))


def shutdown() -> None:
    """Flush and stop the exporter; tracing is off afterwards (safe to call when already off)."""
    global _state
    state, _state = _state, None
    if state is not None:
        state.provider.shutdown()


def enabled() -> bool:
    return _state is not None


# --- spans


def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    **more: AttributeValue,
) -> contextlib.AbstractContextManager[Span]:
    """A span around a block, current inside it; a shared no-op while tracing is off.

    Dotted attribute names go in ``attributes``; plain ones may be keyword arguments. An
    exception leaving the block marks the span as an error with the exception's type (or a
    service error's stable code), never its message.
    """
    state = _state
    if state is None:
        return _NOOP
    merged = {**attributes, **more} if attributes else more
    return _recording(state.tracer, name, kind, parent, merged)


@contextlib.contextmanager
def _recording(
    tracer: Tracer, name: str, kind: SpanKind, parent: Context | None, attributes: Attributes
) -> Iterator[Span]:
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        record_exception=False,  # an exception's message may quote the input
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except Exception as exc:
            mark_error(_error_type(exc), current)
            raise


def _error_type(exc: BaseException) -> str:
    return exc.code.value if isinstance(exc, CvEvaluatorError) else type(exc).__name__


def mark_error(error_type: str, target: Span | None = None) -> None:
    """Mark ``target`` (default: the current span) as failed with a stable code or type name."""
    current = target if target is not None else trace.get_current_span()
    if current.is_recording():
        current.set_attribute("error.type", error_type)
        current.set_status(Status(StatusCode.ERROR, error_type))


# --- propagation


def inject() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``); {} when off."""
    if _state is None:
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str] | None) -> Context | None:
    """The context a carrier from :func:`inject` describes; None when off or there is none."""
    if _state is None or not carrier:
        return None
    return _propagator.extract(carrier)


def carrier_from_headers(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """The trace headers among Kafka message headers (name, bytes value); {} when off."""
    if _state is None:
        return {}
    wanted = _propagator.fields
    return {
        name: value.decode("latin-1")
        for name, value in headers or ()
        if name in wanted and isinstance(value, bytes)
    }


def kafka_headers() -> list[tuple[str, bytes]] | None:
    """The current trace context as Kafka message headers; None when there is nothing to send."""
    carrier = inject()
    return [(name, value.encode("latin-1")) for name, value in carrier.items()] or None


# --- HTTP


class HttpServerSpan:
    """The server span of one request, current from start to :meth:`end`.

    Started before routing, so the route template it is named after is only known at the end.
    """

    __slots__ = ("_method", "_span", "_token")

    def __init__(self, tracer: Tracer, method: str, path: str, parent: Context | None) -> None:
        self._method = method
        self._span = tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        self._token = otel_context.attach(trace.set_span_in_context(self._span, parent))

    def set_request_id(self, request_id: str) -> None:
        self._span.set_attribute("cv_evaluator.request_id", request_id)

    def end(self, route: str | None, status: int) -> None:
        try:
            if route is not None:
                self._span.update_name(f"{self._method} {route}")
                self._span.set_attribute("http.route", route)
            self._span.set_attribute("http.response.status_code", status)
            if status >= 500:
                mark_error(str(status), self._span)
            self._span.end()
        finally:
            otel_context.detach(self._token)


def start_http_server_span(
    method: str, path: str, headers: Mapping[bytes, bytes], request_id: str
) -> HttpServerSpan | None:
    """A server span continuing the caller's trace (``traceparent`` header); None when off."""
    state = _state
    if state is None:
        return None
    carrier = {
        name: value
        for name in _propagator.fields
        if (value := headers.get(name.encode(), b"").decode("latin-1"))
    }
    server = HttpServerSpan(state.tracer, method, path, extract(carrier))
    server.set_request_id(request_id)
    return server


# --- database


def instrument_engine(engine: Engine) -> None:
    """A client span per statement executed through ``engine`` (the sync engine of an async one).

    Installed only while tracing is on: an engine built with tracing off pays nothing per
    statement. Statements run outside any span are not traced. The span has the database
    system, the operation (the statement's first keyword) and the statement text cut to a few
    hundred characters; never the parameters, which hold the personal data.
    """
    if _state is None:
        return
    from sqlalchemy import event

    system = engine.dialect.name

    def before_cursor_execute(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        state = _state
        # Only statements made on behalf of traced work: polls, lease heartbeats and sweeps
        # would otherwise each start a trace of one span.
        if state is None or context is None or not trace.get_current_span().is_recording():
            return
        operation = _operation(statement)
        setattr(
            context,
            _SPAN_ATTRIBUTE,
            state.tracer.start_span(
                operation,
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system": system,
                    "db.operation": operation,
                    "db.statement": " ".join(statement.split())[:_STATEMENT_LIMIT],
                },
            ),
        )

    def after_cursor_execute(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        statement_span: Span | None = getattr(context, _SPAN_ATTRIBUTE, None)
        if statement_span is not None:
            setattr(context, _SPAN_ATTRIBUTE, None)
            statement_span.end()

    def handle_error(exception_context: Any) -> None:
        context = exception_context.execution_context
        statement_span: Span | None = getattr(context, _SPAN_ATTRIBUTE, None)
        if statement_span is not None:
            setattr(context, _SPAN_ATTRIBUTE, None)
            mark_error(type(exception_context.original_exception).__name__, statement_span)
            statement_span.end()

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine, "after_cursor_execute", after_cursor_execute)
    event.listen(engine, "handle_error", handle_error)


def _operation(statement: str) -> str:
    words = statement.lstrip(" \t\r\n(").split(None, 1)
    return words[0].upper() if words else "SQL"


# --- queue


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """Which queue jobs travel through: ``system`` (``db`` or ``kafka``) and its destination."""

    system: str
    destination: str

    def attributes(self, operation: str) -> dict[str, AttributeValue]:
        return {
            "messaging.system": self.system,
            "messaging.destination.name": self.destination,
            "messaging.operation.name": operation,
            "messaging.operation.type": operation,
        }


# The embedded queue: the jobs table itself.
DB_QUEUE = QueueInfo("db", "jobs")


def publish_span(queue: QueueInfo) -> contextlib.AbstractContextManager[Span]:
    """The producer span of enqueueing a job; the job carries its context (see :func:`inject`)."""
    return span(f"publish {queue.destination}", queue.attributes("publish"), kind=SpanKind.PRODUCER)


def process_span(
    queue: QueueInfo,
    job_id: str,
    trace_context: Mapping[str, str] | None,
    *,
    attempt: int,
    request_id: str | None,
) -> contextlib.AbstractContextManager[Span]:
    """The consumer span of one processing attempt, a child of the job's publish span."""
    if _state is None:
        return _NOOP
    attributes = queue.attributes("process")
    attributes.update({"messaging.message.id": job_id, "cv_evaluator.job.attempt": attempt})
    if request_id is not None:
        attributes["cv_evaluator.request_id"] = request_id
    return span(
        f"process {queue.destination}",
        attributes,
        kind=SpanKind.CONSUMER,
        # A job queued without a trace context starts a trace of its own.
        parent=extract(trace_context) or Context(),
    )


# --- evaluation steps


def evaluation_step(name: str) -> contextlib.AbstractContextManager[Span]:
    """The span of one step of the evaluator (``prepare``, ``retrieve``, ``score_cv``...)."""
    if _state is None:
        return _NOOP
    return span(f"evaluation.{name}")


def step_recorder() -> tuple[
    Callable[[str], contextlib.AbstractContextManager[None]], list[StepTiming]
]:
    """A step hook that only notes times, for an evaluator running in another process; replay the
    notes with :func:`record_steps` where the trace context lives."""
    timings: list[StepTiming] = []

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.time_ns()
        try:
            yield
        finally:
            timings.append((name, started, time.time_ns()))

    return step, timings


def record_steps(timings: Sequence[StepTiming]) -> None:
    """Spans, children of the current one, for steps timed elsewhere."""
    state = _state
    if state is None:
        return
    for name, started, ended in timings:
        state.tracer.start_span(f"evaluation.{name}", start_time=started).end(end_time=ended)
