"""The maintenance lock on both backends: one holder at a time, leases, take-over, release."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.errors import Conflict, ErrorCode
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.lock import MAINTENANCE_LOCK, Lease, MaintenanceLock, lock_holder
from tests.integration.ops.conftest import OpsFactory

START = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def manual(ctx: OpsContext) -> tuple[OpsContext, ManualClock]:
    clock = ManualClock(START)
    return dataclasses.replace(ctx, clock=clock), clock


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_of_concurrent_contenders_exactly_one_wins(
    make_ops: OpsFactory, backend: str
) -> None:
    first = make_ops(backend)
    # Each contender has its own engine, as separate processes would.
    contenders = [first] + [
        make_ops(backend, db_url=first.settings.database_url, data_dir=first.settings.data_dir)
        for _ in range(5)
    ]
    results = await asyncio.gather(
        *(
            MaintenanceLock(ctx).acquire(
                MAINTENANCE_LOCK, f"contender {i}", ttl=timedelta(minutes=5)
            )
            for i, ctx in enumerate(contenders)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Lease)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == len(contenders) - 1, results
    winner = winners[0].holder
    state = await MaintenanceLock(first).current(MAINTENANCE_LOCK)
    assert state is not None and state.holder == winner
    for conflict in losers:
        assert conflict.code is ErrorCode.CONFLICT
        assert conflict.details["holder"] == winner
        assert f"is held by {winner} since" in conflict.message


async def test_of_concurrent_take_overs_of_an_expired_lease_exactly_one_wins(
    make_ops: OpsFactory, backend: str
) -> None:
    first, clock = manual(make_ops(backend))
    await MaintenanceLock(first).acquire(MAINTENANCE_LOCK, "dead holder", ttl=timedelta(minutes=1))
    clock.advance(3600)
    contenders = [first] + [
        dataclasses.replace(
            make_ops(backend, db_url=first.settings.database_url, data_dir=first.settings.data_dir),
            clock=clock,
        )
        for _ in range(5)
    ]
    results = await asyncio.gather(
        *(
            MaintenanceLock(ctx).acquire(MAINTENANCE_LOCK, f"successor {i}")
            for i, ctx in enumerate(contenders)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Lease)]
    assert len(winners) == 1, results
    assert winners[0].took_over_from == "dead holder"
    assert all(isinstance(r, Conflict) for r in results if r is not winners[0])


async def test_a_held_lock_names_its_holder_and_since_when(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx, clock = manual(make_ops(backend))
    lock = MaintenanceLock(ctx)
    await lock.acquire(MAINTENANCE_LOCK, "weekly window on host-a", ttl=timedelta(minutes=10))
    clock.advance(9 * 60)  # not expired yet
    with pytest.raises(Conflict) as caught:
        await lock.acquire(MAINTENANCE_LOCK, "maint run daily", ttl=timedelta(minutes=10))
    assert caught.value.message.startswith(
        "maintenance lock 'maintenance' is held by weekly window on host-a since "
        "2026-12-06T03:00:00+00:00"
    )
    assert caught.value.details["expires_at"] == "2026-12-06T03:10:00+00:00"


async def test_an_expired_lease_can_be_taken_over_and_the_old_holder_cannot_undo_it(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx, clock = manual(make_ops(backend))
    lock = MaintenanceLock(ctx)
    old = await lock.acquire(MAINTENANCE_LOCK, "crashed run", ttl=timedelta(minutes=10))
    clock.advance(10 * 60 + 1)
    new = await lock.acquire(MAINTENANCE_LOCK, "scheduler", ttl=timedelta(minutes=10))
    assert new.took_over_from == "crashed run"
    # The old holder, back from the dead, neither renews nor releases the new holder's lock.
    assert await lock.renew(old) is False
    assert await lock.release(old) is False
    state = await lock.current(MAINTENANCE_LOCK)
    assert state is not None and state.holder == "scheduler"
    assert state.acquired_at == START + timedelta(seconds=601)


async def test_release_frees_the_lock_for_the_next_holder(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = make_ops(backend)
    lock = MaintenanceLock(ctx)
    async with lock.hold(MAINTENANCE_LOCK, lock_holder("first")) as lease:
        assert lease.holder.startswith("first (pid ")
        with pytest.raises(Conflict):
            await lock.acquire(MAINTENANCE_LOCK, "second")
    assert await lock.current(MAINTENANCE_LOCK) is None
    second = await lock.acquire(MAINTENANCE_LOCK, "second")
    assert await lock.release(second) is True
    assert await lock.current(MAINTENANCE_LOCK) is None


async def test_the_lock_is_released_when_the_holder_fails_or_is_cancelled(
    make_ops: OpsFactory, backend: str
) -> None:
    lock = MaintenanceLock(make_ops(backend))
    with pytest.raises(RuntimeError):
        async with lock.hold(MAINTENANCE_LOCK, "failing run"):
            raise RuntimeError("task failed")
    assert await lock.current(MAINTENANCE_LOCK) is None

    entered = asyncio.Event()

    async def hold_forever() -> None:
        async with lock.hold(MAINTENANCE_LOCK, "interrupted run"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold_forever())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await lock.current(MAINTENANCE_LOCK) is None


async def test_holds_nest_within_one_task(make_ops: OpsFactory, backend: str) -> None:
    lock = MaintenanceLock(make_ops(backend))
    async with lock.hold(MAINTENANCE_LOCK, "scheduler") as outer:
        # The window procedure takes the lock itself; under the scheduler it is already held.
        async with lock.hold(MAINTENANCE_LOCK, "window") as inner:
            assert inner is outer
        state = await lock.current(MAINTENANCE_LOCK)
        assert state is not None and state.holder == "scheduler"
    assert await lock.current(MAINTENANCE_LOCK) is None


async def test_a_held_lease_is_renewed_in_the_background(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx, clock = manual(make_ops(backend))
    lock = MaintenanceLock(ctx, renew_every=0.01)
    async with lock.hold(MAINTENANCE_LOCK, "long window", ttl=timedelta(minutes=10)):
        clock.advance(3600)  # an hour later the lease still runs, ten minutes ahead

        async def renewed() -> bool:
            state = await lock.current(MAINTENANCE_LOCK)
            return state is not None and state.expires_at == START + timedelta(minutes=70)

        await eventually(renewed, "the lease to be renewed")
        with pytest.raises(Conflict):
            await MaintenanceLock(ctx).acquire(MAINTENANCE_LOCK, "another run")
        state = await lock.current(MAINTENANCE_LOCK)
        assert state is not None and state.heartbeat == START + timedelta(hours=1)
        assert state.acquired_at == START


async def test_a_lease_taken_over_is_not_released_by_its_old_holder(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx, clock = manual(make_ops(backend))
    slow = MaintenanceLock(ctx, renew_every=3600)  # it will not renew in time
    async with slow.hold(MAINTENANCE_LOCK, "stalled", ttl=timedelta(minutes=1)) as lease:
        clock.advance(120)
        await MaintenanceLock(ctx).acquire(MAINTENANCE_LOCK, "successor")
        assert await slow.renew(lease) is False
    state = await slow.current(MAINTENANCE_LOCK)
    assert state is not None and state.holder == "successor"
