"""Slots of a schedule in a time zone, daylight saving time included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.ops.calendar import Timing, last_slot, local_instant, next_slot, zone_named

ZULU = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DAILY = Timing(time(2, 0))
WEEKLY = Timing(time(3, 0), weekday=6)
FIRST_SUNDAY = Timing(time(4, 0), weekday=6, nth_weekday=1)
QUARTERLY = Timing(time(6, 0), weekday=6, nth_weekday=1, months=(1, 4, 7, 10))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat(timespec="minutes")


def test_the_next_daily_slot_is_today_or_tomorrow() -> None:
    assert next_slot(DAILY, utc("2026-06-10T01:59+00:00"), ZULU) == utc("2026-06-10T02:00+00:00")
    # Strictly after: a slot equal to the given time is not "next".
    assert next_slot(DAILY, utc("2026-06-10T02:00+00:00"), ZULU) == utc("2026-06-11T02:00+00:00")
    assert last_slot(DAILY, utc("2026-06-10T02:00+00:00"), ZULU) == utc("2026-06-10T02:00+00:00")
    assert last_slot(DAILY, utc("2026-06-10T01:59+00:00"), ZULU) == utc("2026-06-09T02:00+00:00")


def test_weekly_and_first_sunday_and_quarterly() -> None:
    monday = utc("2026-11-30T12:00+00:00")
    assert next_slot(WEEKLY, monday, ZULU) == utc("2026-12-06T03:00+00:00")
    assert next_slot(FIRST_SUNDAY, monday, ZULU) == utc("2026-12-06T04:00+00:00")
    # The first Sunday of January 2027 is the 3rd; after it, the next is April's (the 4th).
    assert next_slot(QUARTERLY, monday, ZULU) == utc("2027-01-03T06:00+00:00")
    assert next_slot(QUARTERLY, utc("2027-01-03T06:00+00:00"), ZULU) == utc(
        "2027-04-04T06:00+00:00"
    )
    # A month whose 1st is a Sunday: that day is its first Sunday.
    assert next_slot(FIRST_SUNDAY, utc("2027-07-31T00:00+00:00"), ZULU) == utc(
        "2027-08-01T04:00+00:00"
    )
    assert last_slot(QUARTERLY, monday, ZULU) == utc("2026-10-04T06:00+00:00")


def test_slots_follow_the_wall_clock_of_the_zone() -> None:
    # 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
    assert next_slot(WEEKLY, utc("2026-01-01T00:00+00:00"), BERLIN) == utc("2026-01-04T02:00Z")
    assert next_slot(WEEKLY, utc("2026-07-01T00:00+00:00"), BERLIN) == utc("2026-07-05T01:00Z")


def test_a_time_skipped_by_spring_forward_runs_at_the_first_valid_time_after() -> None:
    # 2026-03-29, Berlin: 02:00 CET jumps to 03:00 CEST; 02:00 and 02:30 do not exist.
    sunday = date(2026, 3, 29)
    assert local(local_instant(sunday, time(2, 0), BERLIN), BERLIN) == "2026-03-29T03:00+02:00"
    assert local(local_instant(sunday, time(2, 30), BERLIN), BERLIN) == "2026-03-29T03:00+02:00"
    assert local(local_instant(sunday, time(3, 0), BERLIN), BERLIN) == "2026-03-29T03:00+02:00"
    slots = [next_slot(DAILY, utc("2026-03-27T12:00Z"), BERLIN)]
    for _ in range(3):
        slots.append(next_slot(DAILY, slots[-1], BERLIN))
    assert [local(s, BERLIN) for s in slots] == [
        "2026-03-28T02:00+01:00",
        "2026-03-29T03:00+02:00",
        "2026-03-30T02:00+02:00",
        "2026-03-31T02:00+02:00",
    ]


def test_a_time_repeated_by_fall_back_runs_once_at_its_first_occurrence() -> None:
    # 2026-11-01, New York: 01:00-02:00 happens twice (EDT, then EST).
    at_1_30 = Timing(time(1, 30))
    first = next_slot(at_1_30, utc("2026-10-31T12:00Z"), NEW_YORK)
    assert first == utc("2026-11-01T05:30Z")  # 01:30 EDT
    second = next_slot(at_1_30, first, NEW_YORK)
    assert second == utc("2026-11-02T06:30Z")  # the next day, not 01:30 EST an hour later
    assert last_slot(at_1_30, utc("2026-11-01T06:45Z"), NEW_YORK) == first


def test_unknown_zone_is_a_clear_error() -> None:
    assert zone_named("Europe/Berlin").key == "Europe/Berlin"
    with pytest.raises(InvalidArgument, match="unknown time zone 'Mars/Olympus'"):
        zone_named("Mars/Olympus")


def test_naive_datetimes_and_invalid_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_slot(DAILY, datetime(2026, 1, 1), ZULU)
    with pytest.raises(ValueError, match="needs a weekday"):
        Timing(time(1, 0), nth_weekday=1)
    with pytest.raises(ValueError, match="months"):
        Timing(time(1, 0), months=(0,))


def test_descriptions_read_as_sentences() -> None:
    assert DAILY.describe() == "every day at 02:00"
    assert WEEKLY.describe() == "every Sunday at 03:00"
    assert FIRST_SUNDAY.describe() == "the first Sunday of every month at 04:00"
    assert QUARTERLY.describe() == ("the first Sunday of January, April, July and October at 06:00")


ZONES = st.sampled_from(
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "America/Santiago",  # DST transitions at midnight
        "Australia/Lord_Howe",  # a half-hour DST shift
        "Asia/Kolkata",  # a half-hour offset, no DST
        "Pacific/Apia",  # skipped a whole day in 2011
    ]
).map(ZoneInfo)
TIMINGS = st.builds(
    Timing,
    at=st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    weekday=st.none() | st.integers(0, 6),
    months=st.sampled_from([(), (1, 4, 7, 10), (3,), (11, 12)]),
).flatmap(
    lambda t: st.sampled_from(
        [t]
        if t.weekday is None
        else [t, *(Timing(t.at, t.weekday, nth_weekday=n, months=t.months) for n in (1, 2, 4))]
    )
)
MOMENTS = st.datetimes(
    min_value=datetime(2005, 1, 1), max_value=datetime(2045, 1, 1), timezones=st.just(UTC)
)


def _is_slot(timing: Timing, instant: datetime, zone: ZoneInfo) -> bool:
    """``instant`` is the first valid time at or after ``at`` on a matching local date."""
    day = instant.astimezone(zone).date()
    for candidate in (day, day - timedelta(days=1)):  # a gap may push a slot past midnight
        if not timing.matches(candidate):
            continue
        wanted = datetime.combine(candidate, timing.at)
        wall = instant.astimezone(zone).replace(tzinfo=None)
        just_before = (instant - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
        if just_before < wanted <= wall and wall - wanted < timedelta(days=1, minutes=1):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(timing=TIMINGS, zone=ZONES, moment=MOMENTS)
def test_next_slot_is_the_first_matching_slot_after(
    timing: Timing, zone: ZoneInfo, moment: datetime
) -> None:
    following = next_slot(timing, moment, zone)
    assert following > moment
    assert _is_slot(timing, following, zone)
    # Nothing in between: the latest slot before it is at or before ``moment``.
    assert last_slot(timing, following - timedelta(microseconds=1), zone) <= moment


@settings(max_examples=300, deadline=None)
@given(timing=TIMINGS, zone=ZONES, moment=MOMENTS)
def test_last_slot_is_the_latest_matching_slot_at_or_before(
    timing: Timing, zone: ZoneInfo, moment: datetime
) -> None:
    previous = last_slot(timing, moment, zone)
    assert previous <= moment
    assert _is_slot(timing, previous, zone)
    assert next_slot(timing, previous, zone) > moment
