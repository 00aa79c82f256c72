"""Cross-process wake-ups on PostgreSQL: NOTIFY when a job is published, LISTEN in every worker
process. Polling stays the fallback, so a lost notification only costs one poll interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from cv_evaluator.background import BackgroundTask

log = logging.getLogger(__name__)

CHANNEL = "cv_evaluator_jobs"
_RECONNECT_SECONDS = 1.0


def libpq_url(sqlalchemy_url: str) -> str:
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


class PgJobNotifications:
    def __init__(self, url: str, on_notification: Callable[[], None]) -> None:
        self._url = libpq_url(url)
        self._on_notification = on_notification
        self._task = BackgroundTask(self._listen_forever)
        self.listening = asyncio.Event()

    async def send(self, job_id: str) -> None:
        """Tell every listening process that a job is waiting (best effort)."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=5
            ) as connection:
                await connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, job_id))
        except psycopg.Error:
            log.warning("could not send a job notification; workers will find it by polling")

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _listen_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=5
                ) as connection:
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.listening.set()
                    async for _ in connection.notifies():
                        self._on_notification()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning(
                    "job notifications interrupted; reconnecting",
                    extra={"reason": type(exc).__name__},
                )
                await asyncio.sleep(_RECONNECT_SECONDS)
