"""The job ledger: leased claims and fenced writes on the ``jobs`` table.

Every state change is one conditional UPDATE (compare-and-set on status and lease owner), so it is
correct under any number of concurrent workers and processes. Each write transaction starts with
its write: on SQLite that takes the write lock at once (honouring the busy timeout) instead of
failing to upgrade a read snapshot; on PostgreSQL the claim picks its row with
``FOR UPDATE SKIP LOCKED``, so workers never queue behind each other's locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cv_evaluator.domain.jobs import Job, JobStatus
from cv_evaluator.storage.errors import translated_errors
from cv_evaluator.storage.rows import row_to_job
from cv_evaluator.storage.tables import callbacks, jobs, results


@dataclass(frozen=True, slots=True)
class _Ended:
    callback_url: str | None


def _available(now: datetime) -> Any:
    """Queued and due, or processing with a lease that ran out (its worker died or stalled)."""
    return or_(
        and_(jobs.c.status == JobStatus.QUEUED.value, jobs.c.available_at <= now),
        and_(jobs.c.status == JobStatus.PROCESSING.value, jobs.c.lease_expires_at < now),
    )


def _held_by(job_id: str, worker_id: str) -> Any:
    return and_(
        jobs.c.id == job_id,
        jobs.c.status == JobStatus.PROCESSING.value,
        jobs.c.lease_owner == worker_id,
    )


class SqlJobLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim_next(self, worker_id: str, now: datetime, lease_until: datetime) -> Job | None:
        # One statement: pick the oldest available row and take it. On PostgreSQL the pick skips
        # rows other workers hold locked, so concurrent claims never wait on each other; SQLite
        # has a single writer, and the repeated condition keeps the take a compare-and-set.
        oldest = (
            select(jobs.c.id)
            .where(_available(now))
            .order_by(jobs.c.available_at, jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        return await self._take(jobs.c.id == oldest, worker_id, now, lease_until)

    async def claim(
        self, job_id: str, worker_id: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        return await self._take(jobs.c.id == job_id, worker_id, now, lease_until)

    async def _take(
        self, which: Any, worker_id: str, now: datetime, lease_until: datetime
    ) -> Job | None:
        async with translated_errors(), self._engine.begin() as connection:
            row = (
                await connection.execute(
                    update(jobs)
                    .where(which, _available(now))
                    .values(
                        status=JobStatus.PROCESSING.value,
                        lease_owner=worker_id,
                        lease_expires_at=lease_until,
                        attempts=jobs.c.attempts + 1,
                        started_at=func.coalesce(jobs.c.started_at, now),
                        updated_at=now,
                    )
                    .returning(*jobs.c)
                )
            ).first()
            return None if row is None else row_to_job(row._mapping)

    async def extend_lease(self, job_id: str, worker_id: str, lease_until: datetime) -> bool:
        async with translated_errors(), self._engine.begin() as connection:
            extended = await connection.execute(
                update(jobs).where(_held_by(job_id, worker_id)).values(lease_expires_at=lease_until)
            )
            return extended.rowcount == 1

    async def complete(
        self,
        job_id: str,
        worker_id: str,
        result: Mapping[str, Any],
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        receipt = result.get("receipt", {})
        async with translated_errors(), self._engine.begin() as connection:
            finished = await self._hand_back(
                connection,
                job_id,
                worker_id,
                attempt,
                status=JobStatus.COMPLETED.value,
                finished_at=now,
                updated_at=now,
                error_code=None,
                error_message=None,
            )
            if finished is None:
                # The lease was lost (another worker reclaimed the job): store nothing.
                return False
            await self._announce(connection, job_id, finished.callback_url, now)
            await connection.execute(
                insert(results).values(
                    job_id=job_id,
                    cv_match_rate=result["cv_match_rate"],
                    project_score=result["project_score"],
                    evaluator=receipt.get("evaluator", ""),
                    evaluator_version=receipt.get("evaluator_version", ""),
                    document=dict(result),
                    created_at=now,
                )
            )
            return True

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        code: str,
        message: str,
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        async with translated_errors(), self._engine.begin() as connection:
            failed = await self._hand_back(
                connection,
                job_id,
                worker_id,
                attempt,
                status=JobStatus.FAILED.value,
                finished_at=now,
                updated_at=now,
                error_code=code,
                error_message=message,
            )
            if failed is None:
                return False
            await self._announce(connection, job_id, failed.callback_url, now)
            return True

    async def retry_later(
        self,
        job_id: str,
        worker_id: str,
        available_at: datetime,
        now: datetime,
        attempt: Mapping[str, Any],
    ) -> bool:
        async with translated_errors(), self._engine.begin() as connection:
            ended = await self._hand_back(
                connection,
                job_id,
                worker_id,
                attempt,
                status=JobStatus.QUEUED.value,
                available_at=available_at,
                updated_at=now,
            )
            return ended is not None

    async def release(self, job_id: str, worker_id: str, now: datetime) -> bool:
        async with translated_errors(), self._engine.begin() as connection:
            ended = await self._hand_back(
                connection,
                job_id,
                worker_id,
                None,
                status=JobStatus.QUEUED.value,
                # A released job was interrupted, not tried: give the attempt back.
                attempts=jobs.c.attempts - 1,
                available_at=now,
                updated_at=now,
            )
            return ended is not None

    @staticmethod
    async def _announce(
        connection: AsyncConnection, job_id: str, url: str | None, now: datetime
    ) -> None:
        """Queue the completion callback, in the transaction that ends the job."""
        if url is None:
            return
        # A replayed job ends a second time: it announces its new ending, afresh.
        await connection.execute(delete(callbacks).where(callbacks.c.job_id == job_id))
        await connection.execute(
            insert(callbacks).values(
                job_id=job_id,
                url=url,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
                attempt_log=[],
            )
        )

    async def _hand_back(
        self,
        connection: AsyncConnection,
        job_id: str,
        worker_id: str,
        attempt: Mapping[str, Any] | None,
        **values: Any,
    ) -> _Ended | None:
        """End this worker's lease with ``values``, recording ``attempt``; None if not held."""
        if attempt is not None:
            values["attempt_log"] = await self._appended_log(connection, job_id, attempt)
        row = (
            await connection.execute(
                update(jobs)
                .where(_held_by(job_id, worker_id))
                .values(lease_owner=None, lease_expires_at=None, **values)
                .returning(jobs.c.callback_url)
            )
        ).first()
        return None if row is None else _Ended(callback_url=row.callback_url)

    async def count_by_status(self) -> dict[str, int]:
        async with translated_errors(), self._engine.connect() as connection:
            rows = await connection.execute(
                select(jobs.c.status, func.count()).group_by(jobs.c.status)
            )
            counts = {status.value: 0 for status in JobStatus}
            counts.update({str(row[0]): int(row[1]) for row in rows})
            return counts

    async def mark_published(self, job_id: str, at: datetime) -> None:
        async with translated_errors(), self._engine.begin() as connection:
            await connection.execute(
                update(jobs).where(jobs.c.id == job_id).values(published_at=at)
            )

    async def due_for_publish(self, now: datetime, stale_before: datetime, limit: int) -> list[str]:
        unpublished = jobs.c.published_at.is_(None)
        waiting = and_(
            jobs.c.status == JobStatus.QUEUED.value,
            jobs.c.available_at <= now,
            or_(
                unpublished,
                jobs.c.published_at < jobs.c.available_at,
                jobs.c.published_at < stale_before,
            ),
        )
        abandoned = and_(
            jobs.c.status == JobStatus.PROCESSING.value,
            jobs.c.lease_expires_at < now,
            or_(unpublished, jobs.c.published_at < jobs.c.lease_expires_at),
        )
        async with translated_errors(), self._engine.connect() as connection:
            rows = await connection.execute(
                select(jobs.c.id)
                .where(or_(waiting, abandoned))
                .order_by(jobs.c.available_at, jobs.c.id)
                .limit(limit)
            )
            return [str(row[0]) for row in rows]

    async def requeue_failed(self, job_id: str, now: datetime) -> bool:
        async with translated_errors(), self._engine.begin() as connection:
            changed = await connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.FAILED.value)
                .values(
                    status=JobStatus.QUEUED.value,
                    attempts=0,
                    available_at=now,
                    updated_at=now,
                    finished_at=None,
                    error_code=None,
                    error_message=None,
                )
            )
            return changed.rowcount == 1

    @staticmethod
    async def _appended_log(
        connection: AsyncConnection, job_id: str, attempt: Mapping[str, Any]
    ) -> Any:
        current = (
            await connection.execute(select(jobs.c.attempt_log).where(jobs.c.id == job_id))
        ).scalar_one_or_none()
        return [*(current or []), dict(attempt)]
