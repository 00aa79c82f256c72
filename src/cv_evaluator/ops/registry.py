"""The catalogue of checks and tasks; modules register theirs on import (no I/O happens then)."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import Outcome, TaskOutcome

CheckFunc = Callable[[OpsContext], Awaitable[Outcome]]
TaskFunc = Callable[[OpsContext, bool], Awaitable[TaskOutcome]]
# Returns why the check or task does not apply to this configuration, or None when it does.
Applicability = Callable[[OpsContext], str | None]


def always(_ctx: OpsContext) -> str | None:
    return None


def needs_postgresql(ctx: OpsContext) -> str | None:
    return None if ctx.is_postgresql else "the database is SQLite, not PostgreSQL"


def needs_sqlite(ctx: OpsContext) -> str | None:
    return None if ctx.is_sqlite else "the database is PostgreSQL, not SQLite"


def needs_db_queue(ctx: OpsContext) -> str | None:
    return "the queue is Kafka (QUEUE_BACKEND=kafka)" if ctx.uses_kafka else None


def needs_kafka(ctx: OpsContext) -> str | None:
    return None if ctx.uses_kafka else "the queue is the jobs table (QUEUE_BACKEND=db)"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    group: str
    description: str
    applies: Applicability
    run: CheckFunc
    # Runs alongside the others: it waits on a subprocess or the network, not on our systems.
    concurrent: bool = False


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    description: str
    applies: Applicability
    run: TaskFunc


_CHECKS: dict[str, CheckSpec] = {}
# Listing order: from the outside in, the way an operator reads a report.
GROUP_ORDER = (
    "service",
    "sqlite",
    "postgresql",
    "queue",
    "kafka",
    "cross",
    "backup",
    "dependencies",
)
_TASKS: dict[str, TaskSpec] = {}


def check(
    name: str,
    *,
    group: str,
    description: str,
    applies: Applicability = always,
    concurrent: bool = False,
) -> Callable[[CheckFunc], CheckFunc]:
    def register(func: CheckFunc) -> CheckFunc:
        if name in _CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        _CHECKS[name] = CheckSpec(name, group, description, applies, func, concurrent)
        return func

    return register


def task(
    name: str, *, description: str, applies: Applicability = always
) -> Callable[[TaskFunc], TaskFunc]:
    """Register a task: ``run(ctx, dry_run)`` must not change anything when ``dry_run``."""

    def register(func: TaskFunc) -> TaskFunc:
        if name in _TASKS:
            raise ValueError(f"task {name!r} registered twice")
        _TASKS[name] = TaskSpec(name, description, applies, func)
        return func

    return register


def _group_rank(spec: CheckSpec) -> int:
    return GROUP_ORDER.index(spec.group) if spec.group in GROUP_ORDER else len(GROUP_ORDER)


def all_checks() -> list[CheckSpec]:
    _load()
    return sorted(_CHECKS.values(), key=_group_rank)


def all_tasks() -> list[TaskSpec]:
    _load()
    return list(_TASKS.values())


def get_task(name: str) -> TaskSpec:
    _load()
    try:
        return _TASKS[name]
    except KeyError:
        raise InvalidArgument(
            f"unknown maintenance task {name!r}", details={"known": sorted(_TASKS)}
        ) from None


def _matches(spec: CheckSpec, pattern: str) -> bool:
    return spec.group == pattern or fnmatch.fnmatchcase(spec.name, pattern)


def select_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[CheckSpec]:
    """Checks by name, group or glob (``postgres.*``); unknown selectors are an error."""
    checks = all_checks()
    only, skip = [p for p in only if p], [p for p in skip if p]
    for pattern in [*only, *skip]:
        if not any(_matches(spec, pattern) for spec in checks):
            raise InvalidArgument(
                f"no check matches {pattern!r}",
                details={"known": sorted(spec.name for spec in checks)},
            )
    if only:
        checks = [s for s in checks if any(_matches(s, p) for p in only)]
    return [s for s in checks if not any(_matches(s, p) for p in skip)]


def split_patterns(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _load() -> None:
    # Importing the catalogue modules registers their checks and tasks.
    from cv_evaluator.ops import checks, tasks  # noqa: F401
