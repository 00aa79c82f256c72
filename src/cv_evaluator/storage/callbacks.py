"""The completion-callback outbox: due deliveries, leased so one process sends each attempt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cv_evaluator.storage.errors import translated_errors
from cv_evaluator.storage.tables import callbacks


@dataclass(frozen=True, slots=True)
class DueCallback:
    job_id: str
    url: str
    attempts: int
    created_at: datetime
    attempt_log: tuple[Mapping[str, Any], ...]


class SqlCallbackOutbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueCallback]:
        """Pending deliveries whose time has come; each is pushed to ``lease_until`` so other
        processes leave it alone while this one sends it."""
        async with translated_errors(), self._engine.connect() as connection:
            rows = list(
                await connection.execute(
                    select(callbacks)
                    .where(callbacks.c.status == "pending", callbacks.c.next_attempt_at <= now)
                    .order_by(callbacks.c.next_attempt_at)
                    .limit(limit)
                )
            )
            await connection.rollback()
        claimed = []
        for row in rows:
            async with translated_errors(), self._engine.begin() as connection:
                taken = await connection.execute(
                    update(callbacks)
                    .where(
                        callbacks.c.job_id == row.job_id,
                        callbacks.c.status == "pending",
                        callbacks.c.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=lease_until)
                )
            if taken.rowcount == 1:
                claimed.append(
                    DueCallback(
                        row.job_id, row.url, row.attempts, row.created_at, tuple(row.attempt_log)
                    )
                )
        return claimed

    async def record(
        self,
        due: DueCallback,
        *,
        status: str,
        next_attempt_at: datetime,
        now: datetime,
        attempt: Mapping[str, Any],
        error: str | None,
    ) -> None:
        async with translated_errors(), self._engine.begin() as connection:
            await connection.execute(
                update(callbacks)
                .where(callbacks.c.job_id == due.job_id)
                .values(
                    status=status,
                    attempts=due.attempts + 1,
                    next_attempt_at=next_attempt_at,
                    updated_at=now,
                    last_error=error,
                    attempt_log=[*due.attempt_log, dict(attempt)],
                )
            )
