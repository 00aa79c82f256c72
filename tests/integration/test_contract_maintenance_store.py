"""Contract tests: the maintenance-mode store and its in-memory fake behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cv_evaluator.domain.maintenance import MaintenanceAudit, MaintenanceState, hash_token
from cv_evaluator.domain.ports import MaintenanceStore
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.maintenance import SqlMaintenanceStore
from cv_evaluator.storage.migrate import upgrade
from tests.support.backends import Databases
from tests.support.fakes import InMemoryMaintenanceStore

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, databases: Databases
) -> AsyncIterator[MaintenanceStore]:
    if request.param == "memory":
        yield InMemoryMaintenanceStore()
        return
    url = databases.migrated_url(request.param, tmp_path)
    upgrade(url)
    engine = make_async_engine(url)
    try:
        yield SqlMaintenanceStore(engine)
    finally:
        await engine.dispose()


def on(reason: str, at: datetime) -> MaintenanceState:
    return MaintenanceState(
        enabled=True,
        reason=reason,
        started_by="ops@host",
        started_at=at,
        ends_at=at + timedelta(minutes=30),
        retry_after_seconds=120,
        bypass_token_hash=hash_token("secret"),
        bypass_expires_at=at + timedelta(minutes=30),
        updated_at=at,
    )


async def test_off_until_first_started(store: MaintenanceStore) -> None:
    state = await store.get()
    assert not state.enabled and not state.active(T0)
    assert await store.audit() == []


async def test_state_round_trips_and_every_change_is_audited(store: MaintenanceStore) -> None:
    started = on("upgrade", T0)
    await store.put(started, MaintenanceAudit(T0, "ops@host", "start", "upgrade", {"n": 1}))
    assert await store.get() == started
    stopped = replace(started, enabled=False, bypass_token_hash=None, updated_at=T0 + timedelta(1))
    later = T0 + timedelta(minutes=5)
    await store.put(stopped, MaintenanceAudit(later, "admin-api", "stop", "done", {}))
    assert await store.get() == stopped
    trail = await store.audit()
    assert [(e.action, e.actor, e.reason) for e in trail] == [
        ("stop", "admin-api", "done"),
        ("start", "ops@host", "upgrade"),
    ]
    assert trail[1].details == {"n": 1} and trail[1].at == T0
    assert len(await store.audit(limit=1)) == 1
