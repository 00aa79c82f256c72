from __future__ import annotations

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
