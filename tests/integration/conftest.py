"""Integration fixtures: real SQLite files, the API through an in-process ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import LogFormat, Settings
from cv_evaluator.storage.migrate import upgrade
from tests.support.backends import BACKENDS, Databases


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def settings(tmp_path: Path, backend: str, databases: Databases) -> Settings:
    data_dir = tmp_path / "data"
    return Settings(
        data_dir=data_dir,
        db_url=databases.migrated_url(backend, data_dir),
        log_format=LogFormat.TEXT,
        ai_local_processes=0,
    )


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
async def settings_unmigrated_client(
    settings: Settings, backend: str, databases: Databases
) -> AsyncIterator[httpx.AsyncClient]:
    if backend == "postgresql":
        settings = settings.model_copy(update={"db_url": databases.postgres().empty_database()})
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
