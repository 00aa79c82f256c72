"""Driver errors wrapped into the project's own, so callers never see a driver exception."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cv_evaluator.domain.errors import Conflict, CvEvaluatorError, Unavailable


def translate(exc: BaseException) -> CvEvaluatorError | None:
    """The domain error a driver error stands for, or None when it is not a driver error."""
    if isinstance(exc, IntegrityError):
        return Conflict("the write conflicts with existing data")
    if isinstance(exc, OperationalError | PoolTimeout):
        return Unavailable("the database is unavailable", details={"reason": type(exc).__name__})
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Unavailable("the database connection was lost")
    return None


@asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    try:
        yield
    except Exception as exc:
        domain_error = translate(exc)
        if domain_error is None:
            raise
        raise domain_error from exc
