"""Prometheus metrics; each app builds its own registry, so tests never share state."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from cv_evaluator import __version__
from cv_evaluator.observability.build_info import build_revision

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_EVALUATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServiceMetrics:
    """The figures the service itself counts; each process exports its own.

    ``revision`` is the source revision for ``cv_evaluator_build_info``; None reads it from the
    checkout the code runs from.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, revision: str | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.jobs_enqueued = Counter(
            "jobs_enqueued_total",
            "Evaluation jobs accepted (idempotent replays not counted).",
            registry=r,
        )
        self.jobs_processing = Gauge(
            "jobs_processing", "Evaluation jobs being worked on by this process now.", registry=r
        )
        self.jobs_completed = Counter(
            "jobs_completed_total", "Evaluation jobs that finished with a result.", registry=r
        )
        self.jobs_failed = Counter(
            "jobs_failed_total",
            "Evaluation jobs that ended failed, by error code.",
            ["code"],
            registry=r,
        )
        self.jobs_retried = Counter(
            "jobs_retried_total",
            "Attempts that failed transiently and were scheduled again.",
            ["code"],
            registry=r,
        )
        self.cv_match_rate = Histogram(
            "evaluation_cv_match_rate",
            "Distribution of completed CV match rates (0–1).",
            buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
            registry=r,
        )
        self.project_score = Histogram(
            "evaluation_project_score",
            "Distribution of completed project scores (2–10).",
            buckets=(2, 3, 4, 5, 6, 7, 8, 9, 10),
            registry=r,
        )
        self.evaluation_duration = Histogram(
            "evaluation_duration_seconds",
            "Time the evaluator took for one attempt.",
            ["evaluator"],
            buckets=_EVALUATION_BUCKETS,
            registry=r,
        )
        self.build_info = Gauge(
            "cv_evaluator_build_info",
            "Version and source revision of the running code (value is always 1).",
            ["version", "revision"],
            registry=r,
        )
        self.build_info.labels(version=__version__, revision=revision or build_revision()).set(1)

    def without_api(self) -> None:
        """Stop exporting what only an API process counts, for a process that serves no API.

        A `worker` would otherwise show request counters without samples and an enqueue counter
        stuck at 0, which reads as "nothing arrives" rather than "not counted here".
        """
        for metric in (self.http_requests, self.http_duration, self.jobs_enqueued):
            self.registry.unregister(metric)

    def render(self) -> bytes:
        return generate_latest(self.registry)
