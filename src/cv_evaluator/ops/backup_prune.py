"""Which backups `backup prune` keeps: grandfather-father-son by creation time, in UTC.

- daily: the newest backup of each of the ``MAINT_BACKUP_KEEP_DAILY`` most recent days that have
  a backup; weekly: the same per ISO week; monthly: per calendar month. Counting periods that
  *have* backups (not calendar days back from today) means that when backups stop being taken,
  pruning never eats the last good ones just because time passed.
- The newest verified backup is always kept, whatever the rules say, so the only backup known to
  restore is never deleted. Backups dated in the future (a clock that was wrong) are kept too:
  their place in the periods cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

NEWEST_VERIFIED = "newest verified"
FUTURE = "created in the future (clock skew)"


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    created_at: datetime
    verified_ok: bool


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


_RULES: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("daily", _day),
    ("weekly", _week),
    ("monthly", _month),
)


def select_kept(
    backups: Sequence[Candidate], *, daily: int, weekly: int, monthly: int, now: datetime
) -> dict[str, list[str]]:
    """The ids to keep, each with why (e.g. ``["daily 2026-01-05", "weekly 2026-W02"]``)."""
    keep: dict[str, list[str]] = {}
    present = [b for b in backups if b.created_at <= now]
    for backup in backups:
        if backup.created_at > now:
            keep.setdefault(backup.id, []).append(FUTURE)
    counts = {"daily": daily, "weekly": weekly, "monthly": monthly}
    newest_first = sorted(present, key=lambda b: (b.created_at, b.id), reverse=True)
    for rule, period_of in _RULES:
        periods: dict[str, list[Candidate]] = {}
        for backup in newest_first:
            periods.setdefault(period_of(backup.created_at), []).append(backup)
        # dicts keep insertion order: periods come newest first.
        for period, members in list(periods.items())[: counts[rule]]:
            keep.setdefault(members[0].id, []).append(f"{rule} {period}")
    verified = [b for b in newest_first if b.verified_ok]
    if verified:
        keep.setdefault(verified[0].id, []).append(NEWEST_VERIFIED)
    return keep
