"""Small helpers for driving the API in tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.storage.migrate import upgrade
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT

TERMINAL = {"completed", "failed"}


async def upload_texts(
    client: httpx.AsyncClient,
    cv: bytes = SAMPLE_CV_TEXT.encode(),
    project: bytes = SAMPLE_PROJECT_TEXT.encode(),
    names: tuple[str, str] = ("cv.txt", "project.md"),
) -> dict[str, str]:
    response = await client.post(
        "/v1/upload", files={"cv": (names[0], cv), "project": (names[1], project)}
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def wait_for_terminal(
    client: httpx.AsyncClient, job_id: str, timeout: float = 20
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await client.get(f"/v1/result/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in TERMINAL:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s")
        await asyncio.sleep(0.02)


async def serving(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The app on a freshly migrated database, with one in-process worker, for one test."""
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=1)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield runtime, client
