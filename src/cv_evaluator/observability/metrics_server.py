"""`/metrics` and `/healthz` for a process that serves no API (`cv-evaluator worker`).

The server runs in a thread of its own rather than on the worker's event loop: a scrape is then
answered even while the loop is busy, and a loop that is stuck shows as a worker whose job
figures stop moving instead of as a missing target. Prometheus client objects are thread-safe.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cv_evaluator.domain.errors import Unavailable
from cv_evaluator.observability.metrics import METRICS_CONTENT_TYPE, ServiceMetrics

log = logging.getLogger(__name__)

STARTING = "starting"
OK = "ok"
STOPPING = "stopping"


class MetricsPortUnavailable(Unavailable):
    """The metrics port cannot be listened on (taken by another process, or not allowed)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's fully qualified name, which can wait on DNS
        # for seconds; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class MetricsServer:
    """Serves ``metrics`` on ``host:port`` until :meth:`stop`; port 0 picks a free one."""

    def __init__(self, metrics: ServiceMetrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Read by the handler threads; a plain attribute swap is atomic.
        self.state = STARTING

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    def start(self) -> None:
        handler = _handler_class(self)
        server_class: type[_Server] = _Server
        if ":" in self._host:
            server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        try:
            self._server = server_class((self._host, self._requested_port), handler)
        except OSError as exc:
            raise MetricsPortUnavailable(
                f"cannot serve metrics on {self._host}:{self._requested_port} "
                f"(APP_METRICS_PORT): {exc.strerror or type(exc).__name__}",
                details={"host": self._host, "port": self._requested_port},
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="metrics-server",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "metrics server listening",
            extra={"event": "metrics_server_started", "host": self._host, "port": self.port},
        )

    def stop(self) -> None:
        """Stop answering and close the socket; blocks for at most a poll interval."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def health(self) -> dict[str, str]:
        """Liveness, like the API's `/healthz`: answering at all is the signal; the body says
        whether the worker is still starting, taking work, or draining before it exits."""
        return {"status": self.state}

    def render_metrics(self) -> bytes:
        return self._metrics.render()


def _handler_class(server: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cv-evaluator-metrics"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, METRICS_CONTENT_TYPE, server.render_metrics())
            elif path == "/healthz":
                self._answer(200, "application/json", json.dumps(server.health()).encode())
            else:
                self._answer(404, "text/plain; charset=utf-8", b"not found: try /metrics\n")

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Not to stderr as plain text: scrapes are frequent and say nothing worth keeping.
            log.debug("metrics server: " + format, *args)

    return Handler
