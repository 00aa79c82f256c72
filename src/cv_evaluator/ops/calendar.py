"""When a schedule runs: wall-clock slots in a time zone, resolved to UTC instants.

A slot is a local date that matches the timing plus the local time ``at``. Daylight saving time
is resolved the way cron does it: a time that does not exist on a spring-forward day runs at the
first valid time after it (02:30 in a 02:00→03:00 gap runs at 03:00), and a time that happens
twice on a fall-back day runs once, at its first occurrence.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cv_evaluator.domain.errors import InvalidArgument

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth"}
# The longest gap between two slots of a valid timing is a year and a week (one month listed,
# the fourth weekday of it); searching a little further keeps every lookup bounded.
_SEARCH_DAYS = 400
# Daylight-saving gaps are at most a few hours; a day bounds the walk out of one.
_GAP_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule runs, in the scheduler's time zone.

    ``weekday`` is 0 (Monday) to 6 (Sunday); ``nth_weekday`` (1-4) narrows it to the first to
    fourth such weekday of the month; ``months`` (1-12, empty: every month) narrows any of them.
    """

    at: time
    weekday: int | None = None
    nth_weekday: int | None = None
    months: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.weekday is not None and not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0-6, not {self.weekday}")
        if self.nth_weekday is not None and (
            self.weekday is None or self.nth_weekday not in ORDINALS
        ):
            raise ValueError("nth_weekday must be 1-4 and needs a weekday")
        if not all(1 <= m <= 12 for m in self.months) or len(set(self.months)) != len(self.months):
            raise ValueError(f"months must be distinct numbers 1-12, not {self.months}")
        if self.at.tzinfo is not None:
            raise ValueError("at is a wall-clock time; the zone is the scheduler's")

    def matches(self, day: date) -> bool:
        if self.months and day.month not in self.months:
            return False
        if self.weekday is not None and day.weekday() != self.weekday:
            return False
        return self.nth_weekday is None or (day.day - 1) // 7 + 1 == self.nth_weekday

    def period_days(self) -> float:
        """The mean distance between two slots, which `every_days` must agree with."""
        if self.nth_weekday is not None:
            return 365.25 / (len(self.months) or 12)
        if self.weekday is not None:
            return 7.0
        return 1.0

    def describe(self) -> str:
        at = self.at.strftime("%H:%M")
        months = ""
        if self.months:
            names = [_calendar.month_name[m] for m in sorted(self.months)]
            months = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        if self.weekday is None:
            return f"every day at {at}" + (f" in {months}" if months else "")
        day = WEEKDAYS[self.weekday].capitalize()
        if self.nth_weekday is None:
            return f"every {day} at {at}" + (f" in {months}" if months else "")
        of = months or "every month"
        return f"the {ORDINALS[self.nth_weekday]} {day} of {of} at {at}"


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a clear error for a name the tz database does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(
            f"unknown time zone {name!r}: give an IANA name such as UTC or Europe/Berlin"
        ) from None


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    there = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return there == naive


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time ``at`` on ``day`` in ``zone`` (DST resolved as above)."""
    naive = datetime.combine(day, at)
    for _ in range(_GAP_MINUTES):
        if _exists(naive, zone):
            # fold=0 is the first of two occurrences of an ambiguous wall time.
            return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        naive = (naive + timedelta(minutes=1)).replace(second=0, microsecond=0)
    raise AssertionError(f"no valid local time after {day} {at} in {zone.key}")


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime is ambiguous; give an aware one")


def next_slot(timing: Timing, after: datetime, zone: ZoneInfo) -> datetime:
    """The first slot strictly later than ``after`` (UTC)."""
    _require_aware(after)
    # A slot of the day before can fall after ``after`` when a gap pushes it past midnight.
    day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(_SEARCH_DAYS):
        if timing.matches(day):
            instant = local_instant(day, timing.at, zone)
            if instant > after:
                return instant
        day += timedelta(days=1)
    raise AssertionError(f"{timing} has no slot within {_SEARCH_DAYS} days of {after}")


def last_slot(timing: Timing, now: datetime, zone: ZoneInfo) -> datetime:
    """The latest slot at or before ``now`` (UTC)."""
    _require_aware(now)
    day = now.astimezone(zone).date()
    for _ in range(_SEARCH_DAYS):
        if timing.matches(day):
            instant = local_instant(day, timing.at, zone)
            if instant <= now:
                return instant
        day -= timedelta(days=1)
    raise AssertionError(f"{timing} has no slot within {_SEARCH_DAYS} days before {now}")
