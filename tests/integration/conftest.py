"""Integration fixtures: real SQLite files, the API through an in-process ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.storage.migrate import upgrade


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(runtime, workers=1)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def settings_unmigrated_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
