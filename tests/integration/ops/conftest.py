"""Fixtures for maintenance checks and tasks against the real engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cv_evaluator.config import LogFormat, Settings
from cv_evaluator.domain.clock import SystemClock
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.migrate import upgrade
from tests.support.backends import Databases

OpsFactory = Callable[..., OpsContext]


@pytest.fixture
async def make_ops(
    tmp_path: Path, databases: Databases
) -> AsyncIterator[Callable[..., OpsContext]]:
    """Builds an OpsContext on a fresh migrated database: ``make_ops("postgresql", **settings)``."""
    engines = []

    def build(backend: str, **overrides: Any) -> OpsContext:
        data_dir = overrides.pop("data_dir", tmp_path / "data")
        given_url = overrides.pop("db_url", None)
        settings = Settings(
            data_dir=data_dir,
            db_url=given_url or databases.migrated_url(backend, data_dir),
            log_format=LogFormat.TEXT,
            ai_local_processes=0,
            **overrides,
        )
        if backend == "sqlite" and given_url is None:
            # PostgreSQL databases come from a migrated template; a SQLite file starts empty.
            upgrade(settings.database_url)
        engine = make_async_engine(settings.database_url, busy_timeout_ms=5000, pool_size=5)
        engines.append(engine)
        return OpsContext(settings=settings, clock=SystemClock(), engine=engine)

    yield build
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def ops(make_ops: OpsFactory, backend: str) -> OpsContext:
    """An OpsContext on the parametrised backend (sqlite and postgresql)."""
    return make_ops(backend)
