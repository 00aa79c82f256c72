"""Maintenance mode end to end: the API refuses new work, reads go on, workers pause."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.storage.migrate import upgrade
from tests.integration.api_helpers import upload_texts, wait_for_terminal

TOKEN = "admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


async def started(
    settings: Settings, workers: int
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=workers)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield runtime, http


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    upgrade(settings.database_url)
    return settings.model_copy(
        update={"admin_token": SecretStr(TOKEN), "maint_monitor_interval_seconds": 0}
    )


@pytest.fixture
async def service(admin_settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async for pair in started(admin_settings, workers=1):
        yield pair


async def until(condition: Any, timeout: float = 5.0) -> float:
    """Seconds until ``await condition()`` is true; fails after ``timeout``."""
    began = time.monotonic()
    while not await condition():
        if time.monotonic() - began > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def test_new_work_is_refused_while_reads_go_on(
    service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _runtime, http = service
    ids = await upload_texts(http)
    done = (await http.post("/v1/evaluate", json=ids)).json()["id"]
    await wait_for_terminal(http, done)

    response = await http.post(
        "/admin/maintenance/start",
        json={"reason": "database upgrade", "duration": "10m", "retry_after": 120, "bypass": True},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enabled"] and body["reason"] == "database upgrade"
    bypass = body["bypass_token_value"]

    async def refused() -> bool:
        return (await http.post("/v1/evaluate", json=ids)).status_code == 503

    assert await until(refused) <= 2.0
    refusal = await http.post("/v1/evaluate", json=ids)
    assert refusal.json()["error"]["code"] == "MAINTENANCE"
    assert refusal.headers["retry-after"] == "120"
    assert "database upgrade" in refusal.json()["error"]["message"]
    upload = await http.post(
        "/v1/upload", files={"cv": ("a.txt", b"x"), "project": ("b.txt", b"y")}
    )
    assert upload.status_code == 503 and upload.json()["error"]["code"] == "MAINTENANCE"

    assert (await http.get(f"/v1/result/{done}")).status_code == 200
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["maintenance"] is True
    assert "cv_evaluator_maintenance_mode 1.0" in (await http.get("/metrics")).text

    # The operator's smoke test goes through with the bypass token.
    smoke = await upload_texts_with(http, bypass)
    assert smoke.status_code == 200, smoke.text

    status = (await http.get("/admin/maintenance/status", headers=ADMIN)).json()
    assert status["in_flight_jobs"] == 0 and "bypass_token_value" not in status
    assert status["history"][0]["action"] == "start"

    stopped = await http.post("/admin/maintenance/stop", json={"reason": "done"}, headers=ADMIN)
    assert stopped.status_code == 200 and stopped.json()["enabled"] is False

    async def open_again() -> bool:
        return (await http.post("/v1/evaluate", json=ids)).status_code == 200

    assert await until(open_again) <= 2.0
    assert "cv_evaluator_maintenance_mode 0.0" in (await http.get("/metrics")).text


async def evaluate_answers(http: httpx.AsyncClient, ids: dict[str, str], status: int) -> bool:
    return (await http.post("/v1/evaluate", json=ids)).status_code == status


async def upload_texts_with(http: httpx.AsyncClient, bypass: str) -> httpx.Response:
    return await http.post(
        "/v1/upload",
        files={"cv": ("cv.txt", b"Python engineer"), "project": ("p.md", b"A project")},
        headers={"X-Maintenance-Bypass": bypass},
    )


async def test_admin_maintenance_routes_need_the_token_and_valid_input(
    service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _runtime, http = service
    assert (await http.post("/admin/maintenance/start", json={"reason": "x"})).status_code == 401
    bad = await http.post(
        "/admin/maintenance/start", json={"reason": "x", "duration": "soon"}, headers=ADMIN
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_ARGUMENT"
    both = await http.post(
        "/admin/maintenance/start",
        json={"reason": "x", "duration": 60, "until": "2099-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert both.status_code == 400
    status = (await http.get("/admin/maintenance/status", headers=ADMIN)).json()
    assert status["enabled"] is False and status["history"] == []


async def test_every_instance_sees_a_change_within_two_seconds(admin_settings: Settings) -> None:
    async for first, first_http in started(admin_settings, workers=0):
        async for _second, second_http in started(admin_settings, workers=0):
            ids = await upload_texts(second_http)
            assert first.maintenance is not None
            await first.maintenance.start(reason="switch-over", actor="test")
            assert await until(partial(evaluate_answers, second_http, ids, 503)) <= 2.0
            await first.maintenance.stop(actor="test")
            assert await until(partial(evaluate_answers, second_http, ids, 200)) <= 2.0
            assert (await first_http.get("/healthz")).status_code == 200


async def test_workers_stop_claiming_and_resume_afterwards(
    service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, http = service
    assert runtime.maintenance is not None
    _state, bypass = await runtime.maintenance.start(reason="drain", actor="test", bypass=True)
    assert bypass is not None
    await asyncio.sleep(1.1)  # the gate's refresh interval: every loop now sees the mode
    ids = (await upload_texts_with(http, bypass)).json()
    submitted = await http.post("/v1/evaluate", json=ids, headers={"X-Maintenance-Bypass": bypass})
    job = submitted.json()["id"]
    # Several poll intervals pass and nobody claims it.
    await asyncio.sleep(2.5)
    assert (await http.get(f"/v1/result/{job}")).json()["status"] == "queued"
    assert (await runtime.maintenance.status())["in_flight_jobs"] == 0
    await runtime.maintenance.stop(actor="test")
    result = await wait_for_terminal(http, job, timeout=20)
    assert result["status"] == "completed"
