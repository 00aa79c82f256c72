"""The admin API's authentication and the maintenance figures behind it and `/metrics`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cv_evaluator.bootstrap import build_app, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.storage.migrate import upgrade

TOKEN = "correct-horse-battery-staple-0123456789"


async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def admin(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(
        update={"admin_token": SecretStr(TOKEN), "maint_monitor_checks": "queue.*,cross.*"}
    )
    async for http in serve(configured):
        yield http


@pytest.fixture
async def closed(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(settings):
        yield http


async def test_admin_routes_are_closed_until_a_token_is_configured(
    closed: httpx.AsyncClient,
) -> None:
    response = await closed.get("/admin/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "FORBIDDEN"
    assert "ADMIN_TOKEN" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
async def test_a_missing_or_wrong_token_is_refused(
    admin: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await admin.get("/admin/api/health", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_health_shows_the_same_checks_as_the_cli_and_feeds_metrics(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get(
        "/admin/api/health",
        params={"refresh": "true"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    names = {c["check"] for c in body["checks"]}
    assert "cross.unfinished_lag" in names
    assert body["status"] in {"OK", "WARN", "CRITICAL", "UNKNOWN"}
    assert set(body["schedules"]) == {"daily", "weekly", "monthly", "quarterly"}
    assert all(c["thresholds"] is not None for c in body["checks"])

    metrics = (await admin.get("/metrics")).text
    assert 'cv_evaluator_maint_check_status{check="cross.unfinished_lag",group="cross"}' in metrics
    assert "cv_evaluator_maint_checks_timestamp_seconds" in metrics
    assert 'cv_evaluator_disk_free_ratio{path="data"}' in metrics
    assert "cv_evaluator_oldest_unfinished_job_age_seconds" in metrics
