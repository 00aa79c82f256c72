"""The worker's own metrics endpoint: a real socket, scraped over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from cv_evaluator.domain.errors import CvEvaluatorError, ErrorCode
from cv_evaluator.observability import metrics_server
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.observability.metrics_server import MetricsPortUnavailable, MetricsServer


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    metrics = ServiceMetrics(revision="abc1234")
    metrics.without_api()
    metrics.jobs_completed.inc()
    running = MetricsServer(metrics, "127.0.0.1", 0)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_metrics_and_health_are_served(server: MetricsServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    scrape = httpx.get(f"{base}/metrics", timeout=5)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert "jobs_completed_total 1.0" in scrape.text
    assert 'cv_evaluator_build_info{revision="abc1234"' in scrape.text
    assert "http_requests_total" not in scrape.text
    assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "starting"}
    server.state = metrics_server.OK
    health = httpx.get(f"{base}/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert httpx.get(f"{base}/other", timeout=5).status_code == 404


def test_a_taken_port_is_a_clear_error(server: MetricsServer) -> None:
    second = MetricsServer(ServiceMetrics(revision="r"), "127.0.0.1", server.port)
    with pytest.raises(MetricsPortUnavailable) as raised:
        second.start()
    error: CvEvaluatorError = raised.value
    assert error.code is ErrorCode.UNAVAILABLE
    assert "APP_METRICS_PORT" in error.message and str(server.port) in error.message


def test_stop_closes_the_port() -> None:
    running = MetricsServer(ServiceMetrics(revision="r"), "127.0.0.1", 0)
    running.start()
    port = running.port
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    # The port is free again: a restarted worker can take it.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    running.stop()  # a second stop is harmless
