"""Engines built from settings. Creating an engine opens nothing; connections open on first use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cv_evaluator.observability import tracing

_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "psycopg"}
_SYNC_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def _with_driver(url: str, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database backend {backend!r}; use sqlite or postgresql")
    return parsed.set(drivername=f"{backend}+{drivers[backend]}")


def async_url(url: str) -> URL:
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> URL:
    return _with_driver(url, _SYNC_DRIVERS)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def _prepare_sqlite_file(url: str) -> None:
    path = sqlite_path(url)
    if path is not None and str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers (result polling) proceed while a worker writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def make_async_engine(
    url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 5, pool_timeout: float = 5.0
) -> AsyncEngine:
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        engine = create_async_engine(async_url(url))
        _install_sqlite_pragmas(engine.sync_engine, busy_timeout_ms)
    else:
        engine = create_async_engine(
            async_url(url),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
            # A dead connection is noticed before use, and a database that is down is reported
            # within the timeout: requests answer 503 instead of hanging.
            pool_pre_ping=True,
            connect_args={"connect_timeout": max(1, round(pool_timeout))},
        )
    tracing.instrument_engine(engine.sync_engine)  # nothing unless tracing is on
    return engine


def make_sync_engine(url: str, *, busy_timeout_ms: int = 5000) -> Engine:
    """For migrations and offline tools: plain blocking connections."""
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        engine = create_engine(sync_url(url))
        _install_sqlite_pragmas(engine, busy_timeout_ms)
        return engine
    return create_engine(sync_url(url), pool_pre_ping=True)
