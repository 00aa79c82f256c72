"""One pure ASGI middleware for what every request needs: a request id, a body-size cap, metrics,
an access log line, and a last-resort 500 that never shows a stack trace."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cv_evaluator.domain.errors import ErrorCode, PayloadTooLarge
from cv_evaluator.observability import tracing
from cv_evaluator.observability.logging import request_id_var
from cv_evaluator.observability.metrics import ServiceMetrics

log = logging.getLogger("cv_evaluator.access")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _error_body(code: ErrorCode, message: str, details: dict[str, object]) -> bytes:
    return json.dumps(
        {"error": {"code": code.value, "message": message, "details": details}}
    ).encode()


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        body_limit: Callable[[str], int | None],
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        offered = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = offered if _VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        # Continues the caller's trace (traceparent header); None while tracing is off.
        http_span = tracing.start_http_server_span(
            scope["method"], scope["path"], headers, request_id
        )
        status_holder = [500]
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder[0] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            limit = self._body_limit(scope["path"]) if scope["method"] in {"POST", "PUT"} else None
            declared = headers.get(b"content-length")
            if (
                limit is not None
                and declared is not None
                and declared.isdigit()
                and int(declared) > limit
            ):
                # Refused from the header alone: the body is never read.
                await self._send_error(
                    send_with_id,
                    413,
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    "the request body is too large",
                    {"limit_bytes": limit},
                )
                return
            await self._app(scope, _capped(receive, limit) if limit else receive, send_with_id)
        except Exception:
            log.exception("unhandled error")
            if not response_started:
                await self._send_error(
                    send_with_id,
                    500,
                    ErrorCode.INTERNAL,
                    "internal error; the request id identifies it in the logs",
                    {},
                )
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if http_span is not None:
                http_span.end(getattr(route, "path", None), status_holder[0])
            self._metrics.http_requests.labels(
                scope["method"], template, str(status_holder[0])
            ).inc()
            self._metrics.http_duration.labels(scope["method"], template).observe(elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status_holder[0],
                extra={
                    "event": "http_request",
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status_holder[0],
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            request_id_var.reset(token)

    @staticmethod
    async def _send_error(
        send: Send, status: int, code: ErrorCode, message: str, details: dict[str, object]
    ) -> None:
        body = _error_body(code, message, details)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _capped(receive: Receive, limit: int) -> Receive:
    """Counts body bytes as they stream in and stops at the limit, whatever the headers claimed."""
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(
                    "the request body is too large", details={"limit_bytes": limit}
                )
        return message

    return capped_receive
