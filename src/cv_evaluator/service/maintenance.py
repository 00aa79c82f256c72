"""Maintenance mode: start, stop, status, and the gate that new work and workers consult."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.errors import InvalidArgument, UnderMaintenance
from cv_evaluator.domain.maintenance import MaintenanceAudit, MaintenanceState, hash_token
from cv_evaluator.domain.ports import MaintenanceStore

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 500
MAX_DURATION = timedelta(days=7)
# Without a planned end, the bypass token still expires: a smoke test needs minutes, not days.
DEFAULT_BYPASS_TTL = timedelta(hours=2)
BYPASS_HEADER = "X-Maintenance-Bypass"

InFlight = Callable[[], Awaitable[int]]


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``30m``, ``2h`` or ``1d``."""
    value = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    factor = units.get(value[-1:], 0)
    number = value[:-1] if factor else value
    try:
        seconds = float(number) * (factor or 1)
    except ValueError:
        raise InvalidArgument(
            f"duration {text!r} is not a number of seconds or like 30m, 2h, 1d"
        ) from None
    return timedelta(seconds=seconds)


class MaintenanceService:
    def __init__(self, store: MaintenanceStore, clock: Clock, in_flight: InFlight) -> None:
        self._store = store
        self._clock = clock
        self._in_flight = in_flight

    async def start(
        self,
        *,
        reason: str,
        actor: str,
        duration: timedelta | None = None,
        until: datetime | None = None,
        retry_after: int | None = None,
        bypass: bool = False,
    ) -> tuple[MaintenanceState, str | None]:
        """Turn the mode on (or change its reason and end); returns the bypass token once."""
        now = self._clock.now()
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise InvalidArgument(f"give a reason of 1 to {MAX_REASON_CHARS} characters")
        if duration is not None and until is not None:
            raise InvalidArgument("give a duration or an end time, not both")
        ends_at = until if until is not None else (now + duration if duration else None)
        if ends_at is not None:
            if ends_at.tzinfo is None:
                raise InvalidArgument("the end time needs a time zone (e.g. 2026-12-01T04:00Z)")
            if ends_at <= now:
                raise InvalidArgument("the end time is not in the future")
            if ends_at - now > MAX_DURATION:
                raise InvalidArgument("maintenance mode may be planned for at most 7 days")
        if retry_after is not None and not 1 <= retry_after <= 86_400:
            raise InvalidArgument("retry_after must be between 1 and 86400 seconds")
        token = secrets.token_urlsafe(32) if bypass else None
        state = MaintenanceState(
            enabled=True,
            reason=reason,
            started_by=actor,
            started_at=now,
            ends_at=ends_at,
            retry_after_seconds=retry_after if retry_after is not None else 300,
            bypass_token_hash=hash_token(token) if token else None,
            bypass_expires_at=(ends_at or now + DEFAULT_BYPASS_TTL) if token else None,
            updated_at=now,
        )
        details: dict[str, Any] = {
            "ends_at": ends_at.isoformat() if ends_at else None,
            "retry_after_seconds": state.retry_after_seconds,
            "bypass_token": bool(token),
        }
        await self._store.put(state, MaintenanceAudit(now, actor, "start", reason, details))
        return state, token

    async def set_workers_paused(self, paused: bool, *, actor: str, reason: str) -> None:
        """Let workers claim again (or stop them) while admission stays as it is."""
        now = self._clock.now()
        previous = await self._store.get()
        if not previous.active(now):
            raise InvalidArgument("maintenance mode is off: workers are not paused by it")
        state = replace(previous, workers_paused=paused, updated_at=now)
        action = "pause" if paused else "resume"
        await self._store.put(state, MaintenanceAudit(now, actor, action, reason.strip(), {}))

    async def stop(self, *, actor: str, reason: str = "") -> MaintenanceState:
        now = self._clock.now()
        previous = await self._store.get()
        state = replace(
            previous,
            enabled=False,
            bypass_token_hash=None,
            bypass_expires_at=None,
            updated_at=now,
        )
        details = {
            "was_enabled": previous.active(now),
            "had_expired": previous.expired(now),
            "started_at": previous.started_at.isoformat() if previous.started_at else None,
        }
        audit = MaintenanceAudit(now, actor, "stop", reason.strip() or "stopped", details)
        await self._store.put(state, audit)
        return state

    async def in_flight(self) -> int:
        """Jobs being processed now: what a window waits for before it changes anything."""
        return await self._in_flight()

    async def status(self) -> dict[str, Any]:
        now = self._clock.now()
        state = await self._store.get()
        history = await self._store.audit(10)
        return {
            **state.describe(now),
            "in_flight_jobs": await self.in_flight(),
            "checked_at": now.isoformat(),
            "history": [
                {
                    "at": entry.at.isoformat(),
                    "actor": entry.actor,
                    "action": entry.action,
                    "reason": entry.reason,
                    **entry.details,
                }
                for entry in history
            ],
        }


class MaintenanceGate:
    """The state as every request and worker loop sees it, read at most once per interval.

    One database read per second per process, whatever the traffic, and every instance sees a
    change within that interval. When the database cannot be read the last state stands.
    """

    def __init__(self, store: MaintenanceStore, clock: Clock, refresh_seconds: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._state = MaintenanceState()
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def state(self) -> MaintenanceState:
        if time.monotonic() - self._read_at >= self._refresh_seconds:
            async with self._lock:
                if time.monotonic() - self._read_at >= self._refresh_seconds:
                    try:
                        self._state = await self._store.get()
                    except Exception as exc:
                        log.warning("cannot read the maintenance mode: %s", type(exc).__name__)
                    self._read_at = time.monotonic()
        return self._state

    @property
    def last_known(self) -> MaintenanceState:
        return self._state

    async def active(self) -> bool:
        return (await self.state()).active(self._clock.now())

    async def workers_paused(self) -> bool:
        return (await self.state()).pauses_workers(self._clock.now())

    async def admit_new_work(self, bypass_token: str | None) -> None:
        """Raise MAINTENANCE unless the mode is off or the request carries the bypass token."""
        state = await self.state()
        now = self._clock.now()
        if not state.active(now) or state.admits(bypass_token, now):
            return
        raise UnderMaintenance(
            f"the service is under maintenance: {state.reason}",
            details={
                "reason": state.reason,
                "ends_at": state.ends_at.isoformat() if state.ends_at else None,
                "retry_after_seconds": state.retry_after(now),
            },
        )
