"""Which backups `backup prune` keeps: grandfather-father-son, never the newest verified one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.ops.backup_prune import FUTURE, NEWEST_VERIFIED, Candidate, select_kept

# A Wednesday, so that a week holds backups on both sides of "today".
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)


def _daily(clock: ManualClock, days: int, *, verified: bool = True) -> list[Candidate]:
    """One backup a day at 02:00, the newest this morning, ``days`` in all."""
    today = clock.now().replace(hour=2, minute=0)
    return [
        Candidate(f"bkp_{i:03d}", today - timedelta(days=i), verified)
        for i in reversed(range(days))
    ]


def test_daily_weekly_and_monthly_slots_over_four_months_of_daily_backups() -> None:
    clock = ManualClock(NOW)
    backups = _daily(clock, 120)
    kept = select_kept(backups, daily=7, weekly=4, monthly=6, now=clock.now())
    by_day = {b.id: b.created_at.date().isoformat() for b in backups}
    daily = sorted(by_day[i] for i, why in kept.items() if any("daily" in w for w in why))
    assert daily == [f"2026-03-{d:02d}" for d in range(12, 19)]
    # Weekly: the newest backup of each of the 4 newest ISO weeks (Sundays, and today).
    weekly = sorted(by_day[i] for i, why in kept.items() if any("weekly" in w for w in why))
    assert weekly == ["2026-03-01", "2026-03-08", "2026-03-15", "2026-03-18"]
    # Monthly: the last backup of each month that has backups (only 5 of the 6 slots used).
    monthly = sorted(by_day[i] for i, why in kept.items() if any("monthly" in w for w in why))
    assert monthly == ["2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28", "2026-03-18"]
    assert kept["bkp_000"] == [
        "daily 2026-03-18",
        "weekly 2026-W12",
        "monthly 2026-03",
        NEWEST_VERIFIED,
    ]
    assert len(kept) == len(set(daily) | set(weekly) | set(monthly))


def test_periods_count_only_when_they_have_backups() -> None:
    """Backups that stopped two weeks ago still keep their daily slots: time alone deletes none."""
    clock = ManualClock(NOW)
    backups = _daily(clock, 10)
    clock.advance(14 * 86400)
    kept = select_kept(backups, daily=7, weekly=0, monthly=0, now=clock.now())
    assert sorted(kept) == [f"bkp_{i:03d}" for i in range(7)]


def test_the_newest_verified_backup_is_kept_whatever_the_rules_say() -> None:
    clock = ManualClock(NOW)
    backups = [
        Candidate("bkp_old_verified", NOW - timedelta(days=40), True),
        *[Candidate(f"bkp_new_{i}", NOW - timedelta(days=i), False) for i in range(3)],
    ]
    kept = select_kept(backups, daily=2, weekly=0, monthly=0, now=clock.now())
    assert kept == {
        "bkp_new_0": ["daily 2026-03-18"],
        "bkp_new_1": ["daily 2026-03-17"],
        "bkp_old_verified": [NEWEST_VERIFIED],
    }
    # With nothing kept by the rules at all, the only verified backup still stays.
    assert select_kept(backups, daily=0, weekly=0, monthly=0, now=clock.now()) == {
        "bkp_old_verified": [NEWEST_VERIFIED]
    }


def test_a_newer_unverified_backup_takes_the_slot_and_the_verified_one_stays_too() -> None:
    morning = Candidate("bkp_morning", NOW - timedelta(hours=8), True)
    noon = Candidate("bkp_noon", NOW - timedelta(minutes=5), False)
    kept = select_kept([morning, noon], daily=1, weekly=0, monthly=0, now=NOW)
    assert kept == {"bkp_noon": ["daily 2026-03-18"], "bkp_morning": [NEWEST_VERIFIED]}


def test_backups_from_the_future_are_kept_and_take_no_slot() -> None:
    skewed = Candidate("bkp_future", NOW + timedelta(days=3), True)
    today = Candidate("bkp_today", NOW - timedelta(hours=1), True)
    kept = select_kept([today, skewed], daily=1, weekly=0, monthly=0, now=NOW)
    assert kept == {"bkp_future": [FUTURE], "bkp_today": ["daily 2026-03-18", NEWEST_VERIFIED]}


def test_no_backups_keeps_nothing() -> None:
    assert select_kept([], daily=7, weekly=4, monthly=6, now=NOW) == {}
