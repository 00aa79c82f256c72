"""The embedded queue: the ``jobs`` table itself, with leased claims.

Workers in the same process are woken the moment a job is published. Workers in other processes
are woken by ``broadcast`` where the database offers it (PostgreSQL NOTIFY), and otherwise find the
job on their next poll (``WORKER_POLL_INTERVAL_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.ports import JobLedger


class DbJobQueue:
    def __init__(
        self,
        ledger: JobLedger,
        clock: Clock,
        *,
        lease_seconds: float,
        broadcast: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._ledger = ledger
        self._broadcast = broadcast
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        # Replaced on every publish: a waiter holding the old event sees it set, so a publish
        # that lands between a failed claim and the wait is never missed.
        self._wakeup = asyncio.Event()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self._wake()

    def wake(self) -> None:
        """Wake this process's idle workers (e.g. on a notification from another process)."""
        self._wake()

    def _wake(self) -> None:
        event, self._wakeup = self._wakeup, asyncio.Event()
        event.set()

    async def publish(self, job_id: str) -> None:
        self._wake()
        if self._broadcast is not None:
            await self._broadcast(job_id)

    async def done(self, job: Job) -> None:
        """Nothing to acknowledge: the job row is the queue."""

    async def next_job(self, worker_id: str, timeout: float) -> Job | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._closed:
            wakeup = self._wakeup
            now = self._clock.now()
            job = await self._ledger.claim_next(worker_id, now, now + self._lease)
            if job is not None:
                return job
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)
        return None
