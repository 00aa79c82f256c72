"""Schedules are data: which checks and tasks each of daily/weekly/monthly/quarterly runs, and when.

The timing (``at``, ``weekday``, ``nth_weekday``, ``months``) is what `maint scheduler` and
`maint cron` follow; a schedule without ``at`` is only ever run by hand. ``window`` says whether
the scheduler performs it as a maintenance window (maintenance mode on) or as a plain run.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.ops.calendar import ORDINALS, WEEKDAYS, Timing
from cv_evaluator.ops.registry import CheckSpec, TaskSpec, get_task, select_checks

SCHEDULE_NAMES = ("daily", "weekly", "monthly", "quarterly")
_KEYS = {
    "every_days",
    "description",
    "checks",
    "tasks",
    "at",
    "weekday",
    "nth_weekday",
    "months",
    "window",
    "catch_up_hours",
}
_TIMING_KEYS = ("weekday", "nth_weekday", "months", "catch_up_hours")
# `every_days` drives "next due" and "overdue"; a value far from the timing's real period would
# call a punctual schedule overdue, or hide a missed one.
_PERIOD_TOLERANCE = (0.75, 1.5)


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    every_days: float
    description: str
    checks: tuple[str, ...]
    tasks: tuple[str, ...]
    timing: Timing | None = None
    window: bool = False
    catch_up_hours: float | None = None

    def check_specs(self) -> list[CheckSpec]:
        return select_checks(only=self.checks) if self.checks else []

    def task_specs(self) -> list[TaskSpec]:
        return [get_task(name) for name in self.tasks]

    @property
    def catch_up(self) -> timedelta:
        """How late a missed slot may still be caught up: ``catch_up_hours``, else one period."""
        if self.catch_up_hours is not None:
            return timedelta(hours=self.catch_up_hours)
        return timedelta(days=self.every_days)


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
    where = f"{source}: [{name}]"
    unknown = set(body) - _KEYS
    if unknown:
        raise InvalidArgument(f"{where} has unknown keys {sorted(unknown)}")
    checks, tasks = body.get("checks", []), body.get("tasks", [])
    for key, value in (("checks", checks), ("tasks", tasks)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"{where} {key} must be a list of names")
    timing = _timing(body, where)
    every = body.get("every_days")
    if every is None and timing is not None:
        every = round(timing.period_days(), 2)
    if isinstance(every, bool) or not isinstance(every, int | float) or every <= 0:
        raise InvalidArgument(f"{where} every_days must be a positive number")
    if timing is not None:
        low, high = _PERIOD_TOLERANCE
        period = timing.period_days()
        if not low * period <= every <= high * period:
            raise InvalidArgument(
                f"{where} every_days = {every:g} does not match its timing "
                f"({timing.describe()}, about {period:.3g} days apart)"
            )
    window = body.get("window", False)
    if not isinstance(window, bool):
        raise InvalidArgument(f"{where} window must be true or false")
    catch_up = body.get("catch_up_hours")
    if catch_up is not None and (
        isinstance(catch_up, bool) or not isinstance(catch_up, int | float) or catch_up < 0
    ):
        raise InvalidArgument(f"{where} catch_up_hours must be a number of hours, 0 or more")
    return Schedule(
        name=name,
        every_days=float(every),
        description=str(body.get("description", "")),
        checks=tuple(checks),
        tasks=tuple(tasks),
        timing=timing,
        window=window,
        catch_up_hours=None if catch_up is None else float(catch_up),
    )


def _timing(body: dict[str, Any], where: str) -> Timing | None:
    if "at" not in body:
        given = [key for key in _TIMING_KEYS if key in body]
        if given:
            raise InvalidArgument(f"{where} has {', '.join(given)} but no `at` (the time of day)")
        return None
    at = _time_of_day(body["at"], where)
    weekday = body.get("weekday")
    day: int | None = None
    if weekday is not None:
        if not isinstance(weekday, str) or weekday.lower() not in WEEKDAYS:
            raise InvalidArgument(f"{where} weekday must be one of {', '.join(WEEKDAYS)}")
        day = WEEKDAYS.index(weekday.lower())
    nth = body.get("nth_weekday")
    if nth is not None:
        if isinstance(nth, bool) or nth not in ORDINALS:
            raise InvalidArgument(f"{where} nth_weekday must be 1, 2, 3 or 4 (first to fourth)")
        if day is None:
            raise InvalidArgument(f"{where} nth_weekday needs a weekday")
    months = body.get("months", [])
    valid = isinstance(months, list) and all(
        isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months
    )
    if not valid or len(set(months)) != len(months) or ("months" in body and not months):
        raise InvalidArgument(f"{where} months must be a list of distinct month numbers 1-12")
    return Timing(at=at, weekday=day, nth_weekday=nth, months=tuple(sorted(months)))


def _time_of_day(value: Any, where: str) -> time:
    problem = InvalidArgument(f'{where} at must be a time of day "HH:MM" (00:00 to 23:59)')
    if isinstance(value, time):  # TOML's own local time, `at = 02:00:00`
        if value.tzinfo is not None or value.second or value.microsecond:
            raise problem
        return value
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise problem
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise problem
    if int(hours) > 23 or int(minutes) > 59:
        raise problem
    return time(int(hours), int(minutes))


def get_schedule(schedules: dict[str, Schedule], name: str) -> Schedule:
    try:
        return schedules[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown schedule {name!r}", details={"known": sorted(schedules)}
        ) from None
