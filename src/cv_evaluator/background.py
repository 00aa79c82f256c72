"""A long-running task a component starts once and stops cleanly (listeners, sweepers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class BackgroundTask:
    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task unless it already runs (several worker pools may ask)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self, grace: float = 0.0) -> None:
        """Cancel the task, after letting it end by itself for up to ``grace`` seconds.

        A grace period suits tasks that hold network clients mid-operation: cancelling a
        client while it connects can leave a socket behind that only the garbage collector finds.
        """
        if self._task is not None and grace > 0:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), grace)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
