"""Maintenance mode: the state's rules, the use cases and the gate, on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.errors import InvalidArgument, UnderMaintenance
from cv_evaluator.domain.maintenance import MaintenanceState, hash_token
from cv_evaluator.service.maintenance import MaintenanceGate, MaintenanceService, parse_duration
from tests.support.fakes import InMemoryMaintenanceStore

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def three_in_flight() -> int:
    return 3


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store() -> InMemoryMaintenanceStore:
    return InMemoryMaintenanceStore()


@pytest.fixture
def service(store: InMemoryMaintenanceStore, clock: ManualClock) -> MaintenanceService:
    return MaintenanceService(store, clock, three_in_flight)


def test_the_mode_ends_by_itself_at_its_planned_end() -> None:
    state = MaintenanceState(enabled=True, reason="r", ends_at=T0 + timedelta(minutes=10))
    assert state.active(T0) and not state.expired(T0)
    assert not state.active(T0 + timedelta(minutes=10))
    assert state.expired(T0 + timedelta(minutes=10))
    assert MaintenanceState(enabled=True, reason="r").active(T0 + timedelta(days=400))


def test_retry_after_never_points_past_the_planned_end() -> None:
    state = MaintenanceState(enabled=True, ends_at=T0 + timedelta(seconds=90))
    assert state.retry_after(T0) == 90
    assert MaintenanceState(enabled=True, retry_after_seconds=60).retry_after(T0) == 60
    assert state.retry_after(T0 + timedelta(seconds=89, milliseconds=500)) == 1


def test_bypass_token_must_match_and_be_current() -> None:
    state = MaintenanceState(
        enabled=True, bypass_token_hash=hash_token("tok"), bypass_expires_at=T0 + timedelta(1)
    )
    assert state.admits("tok", T0)
    assert not state.admits("other", T0)
    assert not state.admits(None, T0)
    assert not state.admits("tok", T0 + timedelta(days=1))
    assert not MaintenanceState(enabled=True).admits("tok", T0)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_a_bad_duration_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="not a number"):
        parse_duration("soon")


async def test_start_stores_the_hash_only_and_audits(
    service: MaintenanceService, store: InMemoryMaintenanceStore
) -> None:
    state, token = await service.start(
        reason=" upgrade ", actor="ops@host", duration=timedelta(minutes=30), bypass=True
    )
    assert token is not None and token not in repr(store.state)
    assert store.state.bypass_token_hash == hash_token(token)
    assert state.reason == "upgrade" and state.ends_at == T0 + timedelta(minutes=30)
    assert store.state.bypass_expires_at == state.ends_at
    status = await service.status()
    assert status["enabled"] and status["in_flight_jobs"] == 3
    assert status["bypass_token"] == "set"
    assert status["history"][0]["action"] == "start"
    assert status["history"][0]["actor"] == "ops@host"


async def test_stop_clears_the_bypass_and_is_audited(
    service: MaintenanceService, store: InMemoryMaintenanceStore
) -> None:
    await service.start(reason="upgrade", actor="a", bypass=True)
    await service.stop(actor="b", reason="done")
    assert not store.state.enabled and store.state.bypass_token_hash is None
    assert [e.action for e in await store.audit()] == ["stop", "start"]
    assert (await store.audit())[0].details["was_enabled"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "r", "duration": timedelta(minutes=1), "until": T0}, "not both"),
        ({"reason": "r", "until": T0 - timedelta(minutes=1)}, "not in the future"),
        ({"reason": "r", "until": datetime(2026, 11, 2)}, "time zone"),
        ({"reason": "r", "duration": timedelta(days=8)}, "at most 7 days"),
        ({"reason": "r", "retry_after": 0}, "retry_after"),
    ],
)
async def test_bad_requests_change_nothing(
    service: MaintenanceService,
    store: InMemoryMaintenanceStore,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await service.start(actor="a", **kwargs)
    assert not store.state.enabled and store.entries == []


async def test_gate_refuses_new_work_with_the_reason_and_admits_the_bypass(
    service: MaintenanceService, store: InMemoryMaintenanceStore, clock: ManualClock
) -> None:
    gate = MaintenanceGate(store, clock, refresh_seconds=0)
    await gate.admit_new_work(None)  # off: anything passes
    _state, token = await service.start(
        reason="upgrade", actor="a", duration=timedelta(minutes=2), bypass=True
    )
    with pytest.raises(UnderMaintenance) as refused:
        await gate.admit_new_work(None)
    assert refused.value.details["reason"] == "upgrade"
    assert refused.value.details["retry_after_seconds"] == 120
    await gate.admit_new_work(token)
    clock.advance(121)  # the planned end passed: open again without anyone stopping it
    await gate.admit_new_work(None)
    assert not await gate.active()


async def test_gate_reads_the_store_at_most_once_per_interval(
    store: InMemoryMaintenanceStore, clock: ManualClock
) -> None:
    gate = MaintenanceGate(store, clock, refresh_seconds=60)
    for _ in range(50):
        await gate.admit_new_work(None)
    assert store.reads == 1


async def test_gate_keeps_the_last_state_when_the_store_fails(
    store: InMemoryMaintenanceStore, clock: ManualClock, service: MaintenanceService
) -> None:
    gate = MaintenanceGate(store, clock, refresh_seconds=0)
    await service.start(reason="upgrade", actor="a")
    assert await gate.active()

    async def broken() -> MaintenanceState:
        raise OSError("database down")

    store.get = broken  # type: ignore[method-assign]
    assert await gate.active()
