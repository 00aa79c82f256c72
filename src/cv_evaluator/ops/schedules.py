"""Schedules are data: which checks and tasks each of daily/weekly/monthly/quarterly runs."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.ops.registry import CheckSpec, TaskSpec, get_task, select_checks

SCHEDULE_NAMES = ("daily", "weekly", "monthly", "quarterly")


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    every_days: float
    description: str
    checks: tuple[str, ...]
    tasks: tuple[str, ...]

    def check_specs(self) -> list[CheckSpec]:
        return select_checks(only=self.checks) if self.checks else []

    def task_specs(self) -> list[TaskSpec]:
        return [get_task(name) for name in self.tasks]


def load_schedules(path: Path | None = None) -> dict[str, Schedule]:
    """The built-in schedules, or those of ``path`` (MAINT_SCHEDULES_FILE), validated."""
    if path is None:
        raw = resources.files("cv_evaluator.ops").joinpath("data/schedules.toml").read_text()
        source = "built-in schedules"
    else:
        try:
            raw = path.read_text()
        except OSError as exc:
            raise InvalidArgument(f"cannot read MAINT_SCHEDULES_FILE {path}: {exc}") from None
        source = str(path)
    try:
        document = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{source} is not valid TOML: {exc}") from None
    schedules = {name: _schedule(name, body, source) for name, body in document.items()}
    for schedule in schedules.values():
        # Resolving every name now makes a typo fail the run before anything changed.
        schedule.check_specs()
        schedule.task_specs()
    return schedules


def _schedule(name: str, body: Any, source: str) -> Schedule:
    if not isinstance(body, dict):
        raise InvalidArgument(f"{source}: [{name}] must be a table")
    every = body.get("every_days")
    if not isinstance(every, int | float) or every <= 0:
        raise InvalidArgument(f"{source}: [{name}] every_days must be a positive number")
    checks, tasks = body.get("checks", []), body.get("tasks", [])
    for key, value in (("checks", checks), ("tasks", tasks)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"{source}: [{name}] {key} must be a list of names")
    unknown = set(body) - {"every_days", "description", "checks", "tasks"}
    if unknown:
        raise InvalidArgument(f"{source}: [{name}] has unknown keys {sorted(unknown)}")
    return Schedule(
        name=name,
        every_days=float(every),
        description=str(body.get("description", "")),
        checks=tuple(checks),
        tasks=tuple(tasks),
    )


def get_schedule(schedules: dict[str, Schedule], name: str) -> Schedule:
    try:
        return schedules[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown schedule {name!r}", details={"known": sorted(schedules)}
        ) from None
