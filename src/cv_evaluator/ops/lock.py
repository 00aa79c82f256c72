"""The maintenance lock: at most one maintenance procedure at a time, across hosts.

A lock is a row of `maintenance_locks` held as a lease. Taking it is one atomic statement on
SQLite and PostgreSQL alike: an ``INSERT … ON CONFLICT DO NOTHING`` for a free name, else an
``UPDATE … WHERE expires_at < now`` that only matches an expired lease. Two contenders can never
both succeed, and there is no read-then-write gap between them. While held, a background task
renews the lease every third of its time to live, so a holder that dies (SIGKILL, power loss)
frees the lock within one ``ttl`` and one that is alive keeps it however long the work takes.
Times come from the injected clock; hosts that share a database must keep their clocks in sync
(NTP), as for every lease in this service.

Holds are re-entrant within one task: a procedure that takes the lock itself (a maintenance
window) can run under a caller that already holds it (the scheduler, `maint run`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cv_evaluator.domain.errors import Conflict
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.storage.tables import maintenance_locks

log = logging.getLogger(__name__)

# The lock every maintenance procedure (`maint run`, `maint window run`, the scheduler) takes.
MAINTENANCE_LOCK = "maintenance"
DEFAULT_TTL = timedelta(minutes=10)


def lock_holder(actor: str) -> str:
    """A holder name that tells an operator who and where: ``actor (pid N on host)``."""
    return f"{actor} (pid {os.getpid()} on {socket.gethostname()})"[:255]


@dataclass(frozen=True, slots=True)
class LockState:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime
    heartbeat: datetime


@dataclass(slots=True)
class Lease:
    """A lock held by this process; ``lost`` once a renewal found another holder in its place."""

    name: str
    holder: str
    ttl: timedelta
    acquired_at: datetime
    took_over_from: str | None = None
    lost: bool = False


# The leases the current task (and the tasks it starts) already holds, for re-entrant holds.
_held: ContextVar[Mapping[str, Lease]] = ContextVar(
    "maintenance_locks_held", default=MappingProxyType({})
)


class MaintenanceLock:
    """Named leases in the `maintenance_locks` table."""

    def __init__(self, ctx: OpsContext, *, renew_every: float | None = None) -> None:
        self._ctx = ctx
        self._renew_every = renew_every

    async def acquire(self, name: str, holder: str, *, ttl: timedelta = DEFAULT_TTL) -> Lease:
        """Take the lock or raise Conflict naming who holds it and since when."""
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        now = self._ctx.clock.now()
        values = {
            "name": name,
            "holder": holder,
            "acquired_at": now,
            "expires_at": now + ttl,
            "heartbeat": now,
        }
        async with self._ctx.engine.begin() as connection:
            insert = (sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert)(
                maintenance_locks
            )
            inserted = await connection.execute(
                insert.values(**values)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(maintenance_locks.c.name)
            )
            if inserted.first() is not None:
                return Lease(name, holder, ttl, now)
        previous = await self.current(name)
        # RETURNING says whether a row was written; rowcount is not reliable on every driver.
        async with self._ctx.engine.begin() as connection:
            # Only an expired lease matches; of two contenders, the second re-reads the row
            # the first wrote (PostgreSQL) or waits for the write lock (SQLite) and matches none.
            taken = await connection.execute(
                update(maintenance_locks)
                .where(maintenance_locks.c.name == name)
                .where(maintenance_locks.c.expires_at < now)
                .values(**values)
                .returning(maintenance_locks.c.name)
            )
            took = taken.first() is not None
        if took:
            before = previous.holder if previous else None
            log.warning(
                "maintenance lock %r taken over from %s, whose lease had expired",
                name,
                before,
                extra={"lock": name, "holder": holder, "previous_holder": before},
            )
            return Lease(name, holder, ttl, now, took_over_from=before)
        state = await self.current(name)
        if state is None:  # released between the two statements: the next attempt may win
            raise Conflict(f"maintenance lock {name!r} changed hands; try again")
        raise Conflict(
            f"maintenance lock {name!r} is held by {state.holder} since "
            f"{state.acquired_at.isoformat(timespec='seconds')} (lease renewed "
            f"{state.heartbeat.isoformat(timespec='seconds')}, expires "
            f"{state.expires_at.isoformat(timespec='seconds')} unless renewed)",
            details={
                "lock": name,
                "holder": state.holder,
                "acquired_at": state.acquired_at.isoformat(),
                "expires_at": state.expires_at.isoformat(),
            },
        )

    async def renew(self, lease: Lease) -> bool:
        """Extend the lease; False when the row is no longer this holder's."""
        now = self._ctx.clock.now()
        async with self._ctx.engine.begin() as connection:
            result = await connection.execute(
                update(maintenance_locks)
                .where(maintenance_locks.c.name == lease.name)
                .where(maintenance_locks.c.holder == lease.holder)
                .values(expires_at=now + lease.ttl, heartbeat=now)
                .returning(maintenance_locks.c.name)
            )
            return result.first() is not None

    async def release(self, lease: Lease) -> bool:
        """Free the lock if this holder still has it; True when a row was deleted."""
        async with self._ctx.engine.begin() as connection:
            result = await connection.execute(
                delete(maintenance_locks)
                .where(maintenance_locks.c.name == lease.name)
                .where(maintenance_locks.c.holder == lease.holder)
                .returning(maintenance_locks.c.name)
            )
            return result.first() is not None

    async def current(self, name: str) -> LockState | None:
        async with self._ctx.engine.begin() as connection:
            row = (
                await connection.execute(
                    select(maintenance_locks).where(maintenance_locks.c.name == name)
                )
            ).first()
        if row is None:
            return None
        values = row._mapping
        return LockState(
            name=values["name"],
            holder=values["holder"],
            acquired_at=values["acquired_at"],
            expires_at=values["expires_at"],
            heartbeat=values["heartbeat"],
        )

    @asynccontextmanager
    async def hold(
        self, name: str, holder: str, *, ttl: timedelta = DEFAULT_TTL
    ) -> AsyncIterator[Lease]:
        """Hold ``name`` for the block: acquire, renew in the background, release on exit."""
        outer = _held.get().get(name)
        if outer is not None:
            yield outer
            return
        lease = await self.acquire(name, holder, ttl=ttl)
        token = _held.set(MappingProxyType({**_held.get(), name: lease}))
        renewer = asyncio.create_task(self._keep(lease), name=f"renew lock {name}")
        try:
            yield lease
        finally:
            _held.reset(token)
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            if not lease.lost:
                # Shielded: a cancelled holder (Ctrl-C) must still free the lock for the next.
                await asyncio.shield(self.release(lease))

    async def _keep(self, lease: Lease) -> None:
        every = self._renew_every or lease.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                still_ours = await self.renew(lease)
            except Exception as exc:  # a database hiccup: the lease still has time; try again
                log.warning(
                    "could not renew maintenance lock %r: %s",
                    lease.name,
                    exc,
                    extra={"lock": lease.name, "holder": lease.holder},
                )
                continue
            if not still_ours:
                lease.lost = True
                log.error(
                    "maintenance lock %r lost: its lease expired and another holder took it",
                    lease.name,
                    extra={"lock": lease.name, "holder": lease.holder},
                )
                return
