"""A pool of worker loops in one process, with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.ports import JobSource
from cv_evaluator.worker.processor import JobProcessor

log = logging.getLogger(__name__)

_ERROR_PAUSE_SECONDS = 1.0


def worker_name(index: int) -> str:
    """Unique across hosts, processes and restarts: a stale lease is never mistaken for ours."""
    suffix = new_id(IdKind.JOB)[-8:]
    return f"{socket.gethostname()}:{os.getpid()}:{index}:{suffix}"


class WorkerPool:
    def __init__(
        self,
        source: JobSource,
        processor: JobProcessor,
        *,
        concurrency: int,
        poll_interval: float,
        shutdown_timeout: float,
        paused: Callable[[], Awaitable[bool]] | None = None,
        on_pause: Callable[[bool], None] | None = None,
    ) -> None:
        self._source = source
        self._processor = processor
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._shutdown_timeout = shutdown_timeout
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()
        # Maintenance mode: while it says so, no loop claims; jobs in flight carry on.
        self._paused = paused
        self._on_pause = on_pause
        self._is_paused = False

    @property
    def in_flight(self) -> int:
        return len(self._busy)

    def start(self) -> None:
        for index in range(self._concurrency):
            self._loops.append(asyncio.create_task(self._loop(worker_name(index))))

    async def _hold(self) -> bool:
        """True while maintenance mode holds new claims back (after waiting a poll interval)."""
        if self._paused is None:
            return False
        try:
            paused = await self._paused()
        except Exception:
            log.warning("cannot read the maintenance mode; claiming as usual", exc_info=True)
            paused = False
        if paused != self._is_paused:
            self._is_paused = paused
            log.warning("maintenance mode: claiming %s", "paused" if paused else "resumed")
            if self._on_pause is not None:
                self._on_pause(paused)
        if paused:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll_interval)
        return paused

    async def _loop(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            if await self._hold():
                continue
            try:
                job = await self._source.next_job(worker_id, self._poll_interval)
            except CvEvaluatorError as exc:
                log.warning("could not claim work; pausing", extra={"code": exc.code.value})
                await self._pause()
                continue
            except Exception:
                # A loop that dies takes its share of the capacity with it, silently: never.
                log.exception("unexpected error while claiming work; pausing")
                await self._pause()
                continue
            if job is None:
                continue
            task = asyncio.create_task(self._processor.process(job, worker_id))
            self._busy.add(task)
            try:
                await task
            except asyncio.CancelledError:
                # Cancelled by stop() after the grace period; the processor released the job.
                await self._acknowledge(job)
                return
            except Exception:
                log.exception("job processing crashed; its lease will expire and be reclaimed")
            finally:
                self._busy.discard(task)
            await self._acknowledge(job)

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), _ERROR_PAUSE_SECONDS)

    async def _acknowledge(self, job: Job) -> None:
        # The job row already holds the outcome (or the job is back in the queue), so a lost
        # acknowledgement only means a redelivery, which the claim turns into a no-op.
        try:
            await self._source.done(job)
        except Exception:
            log.warning("could not acknowledge a delivered job", exc_info=True)

    async def stop(self) -> None:
        """Stop claiming; let in-flight jobs finish within the timeout; release the rest."""
        self._stopping.set()
        self._source.close()
        if self._loops:
            _, pending = await asyncio.wait(self._loops, timeout=self._shutdown_timeout)
            for task in list(self._busy):
                task.cancel()
            for loop in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await loop
        self._loops.clear()
