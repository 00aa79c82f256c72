"""The running service as an operator sees it over HTTP: health, readiness, a smoke test, errors.

A maintenance window and a disaster-recovery drill both need to know "does the service answer and
can it still evaluate", so the same probe serves both. The smoke test uses small built-in
documents and, during maintenance, the window's bypass token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cv_evaluator.service.maintenance import BYPASS_HEADER

_SMOKE_TERMINAL = ("completed", "failed")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary, **self.details}


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """Cumulative HTTP answers of one instance, from its ``http_requests_total``."""

    total: float
    server_errors: float

    def error_rate_since(self, earlier: RequestCounts | None) -> float | None:
        if earlier is None:
            return None
        answered = self.total - earlier.total
        errors = self.server_errors - earlier.server_errors
        # A restarted instance resets its counters; a negative difference says nothing.
        if answered <= 0 or errors < 0:
            return 0.0 if answered == 0 else None
        return errors / answered


class Probe(Protocol):
    """What windows and checklists need of the running service."""

    async def health(self) -> ProbeResult: ...

    async def readiness(self) -> ProbeResult: ...

    async def request_counts(self) -> RequestCounts | None: ...

    async def smoke_test(
        self, *, bypass_token: str | None, idempotency_key: str, timeout_seconds: float
    ) -> ProbeResult: ...


def smoke_documents() -> tuple[bytes, bytes]:
    folder = resources.files("cv_evaluator.ops").joinpath("data/smoke")
    return folder.joinpath("cv.md").read_bytes(), folder.joinpath("project.md").read_bytes()


async def _upload_smoke_documents(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> httpx.Response:
    cv, project = smoke_documents()
    return await client.post(
        "/v1/upload",
        files={"cv": ("smoke-cv.md", cv), "project": ("smoke-project.md", project)},
        headers=headers,
    )


async def _request_evaluation(
    client: httpx.AsyncClient, ids: dict[str, Any], key: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        "/v1/evaluate",
        json={"cv_id": ids["cv_id"], "project_id": ids["project_id"]},
        headers={**headers, "Idempotency-Key": key},
    )


class ServiceProbe:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._sleep = sleep

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout)

    async def _get(self, path: str) -> ProbeResult:
        started = time.perf_counter()
        try:
            async with self._client() as client:
                response = await client.get(path)
        except httpx.HTTPError as exc:
            return ProbeResult(
                False, f"GET {path} failed: {type(exc).__name__}: {exc}", {"url": self.base_url}
            )
        ms = round((time.perf_counter() - started) * 1000, 1)
        details: dict[str, Any] = {"status_code": response.status_code, "response_ms": ms}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            details["body"] = body
        ok = response.status_code == 200
        return ProbeResult(ok, f"GET {path} answered {response.status_code} in {ms:g} ms", details)

    async def health(self) -> ProbeResult:
        return await self._get("/healthz")

    async def readiness(self) -> ProbeResult:
        return await self._get("/readyz")

    async def request_counts(self) -> RequestCounts | None:
        """The instance's HTTP answers so far, or None when /metrics cannot be read."""
        try:
            async with self._client() as client:
                response = await client.get("/metrics")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        total = errors = 0.0
        for family in text_string_to_metric_families(response.text):
            if family.name != "http_requests":
                continue
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                # The probe's own requests are not the users' traffic.
                if sample.labels.get("route") in ("/metrics", "/healthz", "/readyz"):
                    continue
                total += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
        return RequestCounts(total=total, server_errors=errors)

    async def smoke_test(
        self, *, bypass_token: str | None, idempotency_key: str, timeout_seconds: float
    ) -> ProbeResult:
        """Upload → evaluate → poll the result until it is completed, with built-in documents."""
        started = time.perf_counter()
        headers = {BYPASS_HEADER: bypass_token} if bypass_token else {}
        steps: dict[str, Any] = {}
        try:
            async with self._client() as client:
                uploaded = await _upload_smoke_documents(client, headers)
                steps["upload_status"] = uploaded.status_code
                if uploaded.status_code != 200:
                    return self._smoke_failed("upload", uploaded, steps, started)
                ids = uploaded.json()
                queued = await _request_evaluation(client, ids, idempotency_key, headers)
                steps["evaluate_status"] = queued.status_code
                if queued.status_code != 200:
                    return self._smoke_failed("evaluate", queued, steps, started)
                job_id = str(queued.json()["id"])
                steps["job_id"] = job_id
                deadline = time.monotonic() + timeout_seconds
                while True:
                    result = await client.get(f"/v1/result/{job_id}")
                    if result.status_code != 200:
                        return self._smoke_failed("result", result, steps, started)
                    body = result.json()
                    if body.get("status") in _SMOKE_TERMINAL:
                        break
                    if time.monotonic() > deadline:
                        steps["last_status"] = body.get("status")
                        return ProbeResult(
                            False,
                            f"smoke test: job {job_id} still {body.get('status')} after "
                            f"{timeout_seconds:g} s (are the workers running and resumed?)",
                            self._timed(steps, started),
                        )
                    await self._sleep(0.25)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return ProbeResult(
                False,
                f"smoke test failed: {type(exc).__name__}: {exc}",
                self._timed(steps, started),
            )
        steps["status"] = body.get("status")
        if body.get("status") != "completed":
            error = body.get("error") or {}
            return ProbeResult(
                False,
                f"smoke test: job {job_id} failed: {error.get('code')}: {error.get('message')}",
                self._timed(steps, started),
            )
        scores = body.get("result") or {}
        steps["cv_match_rate"] = scores.get("cv_match_rate")
        steps["project_score"] = scores.get("project_score")
        timed = self._timed(steps, started)
        return ProbeResult(
            True,
            f"smoke test passed: upload → evaluate → result in {timed['seconds']:g} s "
            f"(job {job_id}, cv_match_rate {scores.get('cv_match_rate')}, "
            f"project_score {scores.get('project_score')})",
            timed,
        )

    async def submit_load(self, count: int, key_prefix: str) -> list[str]:
        """Queue ``count`` evaluations of the built-in documents; their job ids, in order.

        Raises httpx.HTTPStatusError when the service refuses one.
        """
        async with self._client() as client:
            uploaded = (await _upload_smoke_documents(client, {})).raise_for_status()
            ids = uploaded.json()
            submitted: list[str] = []
            for number in range(count):
                queued = await _request_evaluation(client, ids, f"{key_prefix}-{number}", {})
                submitted.append(str(queued.raise_for_status().json()["id"]))
        return submitted

    @staticmethod
    def _timed(steps: dict[str, Any], started: float) -> dict[str, Any]:
        return {**steps, "seconds": round(time.perf_counter() - started, 2)}

    def _smoke_failed(
        self, step: str, response: httpx.Response, steps: dict[str, Any], started: float
    ) -> ProbeResult:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else response.text[:200]
        return ProbeResult(
            False,
            f"smoke test: {step} answered {response.status_code} {code or ''}: {message}",
            self._timed(steps, started),
        )
