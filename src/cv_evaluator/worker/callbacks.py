"""Deliver completion callbacks: POST the result document, signed, retried with backoff.

A callback never changes its job: the job ended before the callback was queued, and whatever
happens to the delivery is recorded on the callback alone (``callbacks.attempt_log``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from datetime import timedelta
from typing import Any

import httpx

from cv_evaluator import __version__
from cv_evaluator.background import BackgroundTask
from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.service.callback_urls import callback_host, forbidden_address
from cv_evaluator.service.results import ResultService, render_job
from cv_evaluator.storage.callbacks import DueCallback, SqlCallbackOutbox
from cv_evaluator.worker.retry import backoff_seconds

log = logging.getLogger(__name__)

_BATCH = 20
_POLL_SECONDS = 1.0


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class CallbackDispatcher:
    def __init__(
        self,
        outbox: SqlCallbackOutbox,
        results: ResultService,
        clock: Clock,
        *,
        secret: bytes,
        allowed_hosts: frozenset[str],
        timeout_seconds: float,
        retry_base_seconds: float,
        retry_window_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._outbox = outbox
        self._results = results
        self._clock = clock
        self._secret = secret
        self._allowed = allowed_hosts
        self._timeout = timeout_seconds
        self._retry_base = retry_base_seconds
        self._window = timedelta(seconds=retry_window_seconds)
        self._transport = transport
        self._task = BackgroundTask(self._run_forever)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except CvEvaluatorError:
                pass  # the database is away; the next round tries again
            except Exception:
                log.exception("callback round failed")
            await asyncio.sleep(_POLL_SECONDS)

    async def run_once(self) -> int:
        now = self._clock.now()
        lease = now + timedelta(seconds=self._timeout * 2 + 5)
        due = await self._outbox.claim_due(now, lease, _BATCH)
        if not due:
            return 0
        async with httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, transport=self._transport
        ) as client:
            for callback in due:
                await self._deliver(client, callback)
        return len(due)

    async def _blocked(self, url: str) -> bool:
        host = callback_host(url)
        if host in self._allowed:
            return False
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None)
        except socket.gaierror:
            return False  # the request itself will fail and be retried
        return any(forbidden_address(str(info[4][0])) for info in infos)

    async def _deliver(self, client: httpx.AsyncClient, callback: DueCallback) -> None:
        started = self._clock.now()
        attempt: dict[str, Any] = {"attempt": callback.attempts + 1, "at": started.isoformat()}
        error: str | None = None
        if await self._blocked(callback.url):
            await self._finish(
                callback, "abandoned", attempt, "the host resolves to a private address"
            )
            return
        view = await self._results.get(callback.job_id)
        body = json.dumps(render_job(view), separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(started.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"ai-cv-evaluator/{__version__}",
            "X-Signature": sign(self._secret, timestamp, body),
            "X-Signature-Timestamp": str(timestamp),
        }
        try:
            response = await client.post(callback.url, content=body, headers=headers)
            attempt["status"] = response.status_code
            if response.is_success:
                await self._finish(callback, "delivered", attempt, None)
                return
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempt["error"] = error
        delay = backoff_seconds(
            callback.job_id, callback.attempts + 1, base=self._retry_base, cap=3600
        )
        next_at = self._clock.now() + timedelta(seconds=delay)
        if next_at > callback.created_at + self._window:
            await self._finish(callback, "abandoned", attempt, error)
            return
        await self._outbox.record(
            callback,
            status="pending",
            next_attempt_at=next_at,
            now=self._clock.now(),
            attempt=attempt,
            error=error,
        )

    async def _finish(
        self, callback: DueCallback, status: str, attempt: dict[str, Any], error: str | None
    ) -> None:
        now = self._clock.now()
        if error is not None:
            attempt.setdefault("error", error)
            log.warning("callback %s", status, extra={"job": callback.job_id, "reason": error})
        await self._outbox.record(
            callback, status=status, next_attempt_at=now, now=now, attempt=attempt, error=error
        )
