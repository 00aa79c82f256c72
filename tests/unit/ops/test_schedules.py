from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path

import pytest

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.ops.registry import all_checks, all_tasks, select_checks
from cv_evaluator.ops.schedules import SCHEDULE_NAMES, get_schedule, load_schedules


def test_built_in_schedules_resolve_to_known_checks_and_tasks() -> None:
    schedules = load_schedules()
    assert tuple(schedules) == SCHEDULE_NAMES
    assert schedules["daily"].every_days == 1
    assert [t.name for t in schedules["weekly"].task_specs()] == ["analyze", "log_cleanup"]
    assert "capacity_review" in schedules["quarterly"].tasks
    assert len(schedules["monthly"].check_specs()) == len(all_checks())
    # Daily stays light: no dependency audit and no bloat estimate.
    daily = {s.name for s in schedules["daily"].check_specs()}
    assert "dependencies.vulnerabilities" not in daily
    assert "postgres.bloat" not in daily


def test_a_schedules_file_replaces_the_built_in_ones(tmp_path: Path) -> None:
    path = tmp_path / "schedules.toml"
    path.write_text('[nightly]\nevery_days = 0.5\nchecks = ["queue.*"]\ntasks = ["log_cleanup"]\n')
    schedules = load_schedules(path)
    assert list(schedules) == ["nightly"]
    assert {s.group for s in schedules["nightly"].check_specs()} == {"queue"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[daily]\nevery_days = 1\ntasks = ["vacuum_everything"]\n', "unknown maintenance task"),
        ('[daily]\nevery_days = 1\nchecks = ["nosuch.*"]\n', "no check matches"),
        ("[daily]\nevery_days = 0\n", "every_days must be a positive number"),
        ('[daily]\nevery_days = 1\ntask = ["analyze"]\n', "unknown keys"),
        ("[daily\n", "not valid TOML"),
    ],
)
def test_a_bad_schedules_file_fails_before_anything_runs(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "schedules.toml"
    path.write_text(body)
    with pytest.raises(InvalidArgument, match=message):
        load_schedules(path)


def test_unknown_schedule_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgument) as caught:
        get_schedule(load_schedules(), "hourly")
    assert caught.value.details["known"] == sorted(SCHEDULE_NAMES)


def test_selection_by_group_glob_and_name() -> None:
    names = {s.name for s in select_checks(only=["postgresql"])}
    assert names and all(n.startswith("postgres.") for n in names)
    assert {s.name for s in select_checks(only=["queue.depth"])} == {"queue.depth"}
    remaining = {s.name for s in select_checks(skip=["postgres.*", "kafka"])}
    assert not any(n.startswith(("postgres.", "kafka.")) for n in remaining)
    with pytest.raises(InvalidArgument):
        select_checks(only=["no.such.check"])


def test_every_check_and_task_is_documented_and_uniquely_named() -> None:
    checks, tasks = all_checks(), all_tasks()
    assert len({c.name for c in checks}) == len(checks)
    assert all(c.description and c.name.count(".") == 1 for c in checks)
    assert all(t.description for t in tasks)


def test_built_in_schedules_have_their_default_times_and_kinds() -> None:
    schedules = load_schedules()
    described = {name: s.timing.describe() for name, s in schedules.items() if s.timing}
    assert described == {
        "daily": "every day at 02:00",
        "weekly": "every Sunday at 03:00",
        "monthly": "the first Sunday of every month at 04:00",
        "quarterly": "the first Sunday of January, April, July and October at 06:00",
    }
    # A backup and log cleanup need no downtime; the others run as maintenance windows.
    assert {name: s.window for name, s in schedules.items()} == {
        "daily": False,
        "weekly": True,
        "monthly": True,
        "quarterly": True,
    }
    for schedule in schedules.values():
        assert schedule.timing is not None
        period = schedule.timing.period_days()
        assert abs(schedule.every_days - period) / period < 0.05, schedule.name
        assert schedule.catch_up == timedelta(days=schedule.every_days)


def test_timing_keys_and_derived_period(tmp_path: Path) -> None:
    path = tmp_path / "schedules.toml"
    path.write_text(
        '[fortnightly]\nat = "23:15"\nweekday = "Friday"\nnth_weekday = 2\nmonths = [12, 6]\n'
        "catch_up_hours = 6\nwindow = true\n"
        "[manual]\nevery_days = 3\n"
        "[toml_time]\nat = 05:30:00\n"
    )
    schedules = load_schedules(path)
    timing = schedules["fortnightly"].timing
    assert timing is not None
    assert (timing.at, timing.weekday, timing.nth_weekday, timing.months) == (
        time(23, 15),
        4,
        2,
        (6, 12),
    )
    # Without every_days, the period follows from the timing: two months a year.
    assert schedules["fortnightly"].every_days == pytest.approx(182.62, abs=0.01)
    assert schedules["fortnightly"].catch_up == timedelta(hours=6)
    assert schedules["manual"].timing is None and not schedules["manual"].window
    toml_time = schedules["toml_time"].timing
    assert toml_time is not None and toml_time.at == time(5, 30)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('at = "2:00"', 'at must be a time of day "HH:MM"'),
        ('at = "24:00"', 'at must be a time of day "HH:MM"'),
        ('at = "02:00"\nweekday = "sun"', "weekday must be one of monday"),
        ('at = "02:00"\nnth_weekday = 1', "nth_weekday needs a weekday"),
        ('at = "02:00"\nweekday = "sunday"\nnth_weekday = 5', "nth_weekday must be 1, 2, 3 or 4"),
        ('at = "02:00"\nmonths = [13]', "months must be a list of distinct month numbers"),
        ('at = "02:00"\nmonths = []', "months must be a list of distinct month numbers"),
        ('at = "02:00"\nmonths = [1, 1]', "months must be a list of distinct month numbers"),
        ('weekday = "sunday"', "has weekday but no `at`"),
        ('at = "02:00"\nwindow = "yes"', "window must be true or false"),
        ('at = "02:00"\ncatch_up_hours = -1', "catch_up_hours must be a number of hours"),
        (
            'at = "02:00"\nweekday = "sunday"\nevery_days = 1',
            "every_days = 1 does not match its timing (every Sunday at 02:00, about 7 days",
        ),
        ("every_days = true", "every_days must be a positive number"),
    ],
)
def test_a_bad_timing_names_the_schedule_and_the_fix(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "schedules.toml"
    path.write_text(f"[nightly]\n{body}\n")
    with pytest.raises(InvalidArgument, match=re.escape(message)) as caught:
        load_schedules(path)
    assert "[nightly]" in caught.value.message
