"""What checks and tasks are given: settings, a clock and a database engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cv_evaluator.config import QueueBackend, Settings
from cv_evaluator.domain.clock import Clock
from cv_evaluator.ops.model import Threshold
from cv_evaluator.storage.engine import is_sqlite


@dataclass(frozen=True)
class OpsContext:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    # Who or what started the work (a user name, "cron", "api-monitor"); recorded in the log.
    actor: str = "cli"

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.settings.database_url)

    @property
    def is_postgresql(self) -> bool:
        return not self.is_sqlite

    @property
    def uses_kafka(self) -> bool:
        return self.settings.queue_backend is QueueBackend.KAFKA

    def threshold(self, setting: str, label: str, unit: str = "") -> Threshold:
        """The threshold held by ``setting`` (field name), named by its environment variable."""
        value: Any = getattr(self.settings, setting)
        default: Any = type(self.settings).model_fields[setting].default
        return Threshold(
            label=label, value=value, unit=unit, setting=setting.upper(), default=default
        )
