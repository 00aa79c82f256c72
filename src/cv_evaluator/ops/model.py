"""The result model shared by every check and task, whoever shows it (CLI, API, metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"

    @property
    def exit_code(self) -> int:
        """The Nagios plugin convention; a skipped check does not fail anything."""
        return _EXIT_CODES[self]

    @property
    def severity(self) -> int:
        """Order used to pick the overall status: CRITICAL > WARN > UNKNOWN > OK = SKIPPED.

        UNKNOWN ranks below WARN so that a check that could not look does not hide a real
        warning, and above OK so that "could not look" never reads as healthy.
        """
        return _SEVERITY[self]


_EXIT_CODES = {
    Status.OK: 0,
    Status.WARN: 1,
    Status.CRITICAL: 2,
    Status.UNKNOWN: 3,
    Status.SKIPPED: 0,
}
_SEVERITY = {
    Status.OK: 0,
    Status.SKIPPED: 0,
    Status.UNKNOWN: 1,
    Status.WARN: 2,
    Status.CRITICAL: 3,
}


def worst(statuses: Sequence[Status]) -> Status:
    relevant = [s for s in statuses if s is not Status.SKIPPED]
    if not relevant:
        return Status.OK
    return max(relevant, key=lambda s: s.severity)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A limit a check applied, and where it comes from, so an operator knows what to change."""

    label: str  # e.g. "warn above", "critical below"
    value: float | int | str
    unit: str
    setting: str  # environment variable, e.g. MAINT_PG_LONG_QUERY_WARN_SECONDS
    default: float | int | str | None

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.label} {self.value}{unit} ({self.setting}, default {self.default})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "setting": self.setting,
            "default": self.default,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one check found."""

    status: Status
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Sequence[Threshold] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str
    group: str
    status: Status
    summary: str
    details: Mapping[str, Any]
    thresholds: Sequence[Threshold]
    checked_at: datetime
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "group": self.group,
            "status": self.status.value,
            "summary": self.summary,
            "details": dict(self.details),
            "thresholds": [t.as_dict() for t in self.thresholds],
            "checked_at": self.checked_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    results: Sequence[CheckResult]
    started_at: datetime
    duration_ms: float

    @property
    def status(self) -> Status:
        return worst([r.status for r in self.results])

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {s.value: 0 for s in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
            "counts": counts,
            "checks": [r.as_dict() for r in self.results],
        }


class TaskStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    PLANNED = "planned"  # a dry run: what would have been done


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What one task did (or, in a dry run, would do), with its figures.

    ``actions`` lists every statement or step executed (or planned), SQL included, so a dry run
    and the log of a real run read the same.
    """

    status: TaskStatus
    summary: str
    figures: Mapping[str, Any] = field(default_factory=dict)
    actions: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: str
    status: TaskStatus
    summary: str
    figures: Mapping[str, Any]
    actions: Sequence[str]
    started_at: datetime
    duration_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "status": self.status.value,
            "summary": self.summary,
            "figures": dict(self.figures),
            "actions": list(self.actions),
            "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
            "error": self.error,
        }


class CheckSkipped(Exception):
    """Raised by a check that cannot apply here; the runner reports SKIPPED with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
