"""capacity_review's pure parts: day labels and the SQL that buckets timestamps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from cv_evaluator.ops.tasks.capacity import Buckets, day_labels, hour_label


def test_day_labels_end_today_and_cover_the_window() -> None:
    labels = day_labels(date(2026, 3, 2), 3)
    assert labels == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert len(day_labels(date(2026, 3, 2), 30)) == 30


def test_hour_labels_are_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert hour_label(datetime(2026, 3, 2, 1, 30, tzinfo=plus_two)) == "2026-03-01 23"
    assert hour_label(datetime(2026, 3, 2, 1, 30, tzinfo=UTC)) == "2026-03-02 01"


def test_both_dialects_label_days_and_hours_alike() -> None:
    sqlite, postgres = Buckets(postgresql=False), Buckets(postgresql=True)
    assert sqlite.day("created_at") == "substr(created_at, 1, 10)"
    assert sqlite.hour("created_at") == "substr(created_at, 1, 13)"
    assert postgres.day("created_at") == "to_char(created_at, 'YYYY-MM-DD')"
    assert postgres.hour("created_at") == "to_char(created_at, 'YYYY-MM-DD HH24')"
    assert "julianday" in sqlite.seconds_between("a", "b")
    assert postgres.seconds_between("a", "b") == "EXTRACT(EPOCH FROM (b - a))"
