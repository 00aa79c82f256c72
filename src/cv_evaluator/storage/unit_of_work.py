"""Repositories and the unit of work over an async SQLAlchemy engine."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cv_evaluator.domain.documents import Upload
from cv_evaluator.domain.jobs import Job
from cv_evaluator.storage.errors import translate
from cv_evaluator.storage.rows import job_to_row, row_to_job, row_to_upload, upload_to_row
from cv_evaluator.storage.tables import jobs, results, uploads


class SqlUploadRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, upload: Upload) -> None:
        await self._connection.execute(insert(uploads).values(upload_to_row(upload)))

    async def get(self, upload_id: str) -> Upload | None:
        row = (
            await self._connection.execute(select(uploads).where(uploads.c.id == upload_id))
        ).first()
        return None if row is None else row_to_upload(row._mapping)


class SqlJobRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, job: Job) -> None:
        await self._connection.execute(insert(jobs).values(job_to_row(job)))

    async def get(self, job_id: str) -> Job | None:
        row = (await self._connection.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return None if row is None else row_to_job(row._mapping)

    async def get_by_idempotency_key(self, key: str) -> Job | None:
        row = (
            await self._connection.execute(select(jobs).where(jobs.c.idempotency_key == key))
        ).first()
        return None if row is None else row_to_job(row._mapping)


class SqlResultRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, job_id: str) -> Mapping[str, Any] | None:
        row = (
            await self._connection.execute(
                select(results.c.document).where(results.c.job_id == job_id)
            )
        ).first()
        if row is None:
            return None
        document: Mapping[str, Any] = row[0]
        return document


class SqlUnitOfWork:
    """One connection and one transaction; leaving without ``commit`` rolls back.

    Driver errors leave as domain errors (``Conflict``, ``Unavailable``).
    """

    uploads: SqlUploadRepository
    jobs: SqlJobRepository
    results: SqlResultRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        try:
            self._connection = await self._engine.connect()
            await self._connection.begin()
        except Exception as exc:
            domain_error = translate(exc)
            if domain_error is None:
                raise
            raise domain_error from exc
        self.uploads = SqlUploadRepository(self._connection)
        self.jobs = SqlJobRepository(self._connection)
        self.results = SqlResultRepository(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        self._connection = None
        if connection is not None:
            try:
                if connection.in_transaction():
                    await connection.rollback()
                await connection.close()
            except Exception as cleanup_error:
                # The block's own exception matters more than a failed clean-up after it.
                if exc is None:
                    raise translate(cleanup_error) or cleanup_error from cleanup_error
        if isinstance(exc, Exception):
            domain_error = translate(exc)
            if domain_error is not None:
                raise domain_error from exc

    async def commit(self) -> None:
        assert self._connection is not None, "commit outside the unit of work"
        await self._connection.commit()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine)
