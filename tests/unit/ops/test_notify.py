"""Rendering the maintenance notifications from their templates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.ops.notify import announcement, completion, mask_url
from cv_evaluator.ops.runs import MaintenanceRun
from cv_evaluator.ops.schedules import load_schedules

BERLIN = ZoneInfo("Europe/Berlin")
ZULU = ZoneInfo("UTC")
START = datetime.fromisoformat("2026-12-06T03:00:00+00:00")
END = datetime.fromisoformat("2026-12-06T04:30:00+00:00")


def run(status: str = "ok", **changes: object) -> MaintenanceRun:
    values: dict[str, object] = {
        "id": "mnt_01TEST",
        "kind": "window",
        "schedule": "weekly",
        "actor": "scheduler (scheduled)",
        "host": "host-a",
        "dry_run": False,
        "status": status,
        "started_at": START,
        "finished_at": datetime.fromisoformat("2026-12-06T03:42:00+00:00"),
        "duration_seconds": 2520.0,
        "tasks": [
            {"task": "analyze", "status": "ok", "summary": "5 tables analysed"},
            {"task": "log_cleanup", "status": "ok", "summary": "3 files removed"},
        ],
        "checks": {"status": "OK"},
        "issues": [],
        "before": {},
        "after": {},
    }
    values.update(changes)
    return MaintenanceRun(**values)  # type: ignore[arg-type]


def test_the_announcement_of_a_window_says_when_how_long_what_and_the_impact() -> None:
    weekly = load_schedules()["weekly"]
    notice = announcement(weekly, START, END, BERLIN)

    assert notice.subject == (
        "Scheduled maintenance of the CV evaluation service: Sun 06 Dec 2026, 03:00–04:30 UTC"
    )
    text = notice.text
    assert "Sun 06 Dec 2026, 03:00–04:30 UTC (Sun 06 Dec 2026, 04:00–05:30 Europe/Berlin)" in text
    assert "about 1 h 30 min" in text
    assert "refused with HTTP 503" in text and "Retry-After" in text
    assert "Results of earlier evaluations stay readable" in text
    for spec in weekly.task_specs():
        assert f"- {spec.name}: {spec.description}" in text
    assert notice.template == "built-in announcement template"
    assert notice.rendered().startswith(f"Subject: {notice.subject}\n\n")


def test_a_schedule_without_downtime_says_so() -> None:
    notice = announcement(load_schedules()["daily"], START, END, ZULU)
    assert "None expected: the service stays open" in notice.text
    assert "503" not in notice.text
    # In UTC the window is given once.
    assert "03:00–04:30 UTC\n" in notice.text


def test_the_webhook_payload() -> None:
    notice = announcement(
        load_schedules()["monthly"],
        datetime.fromisoformat("2026-12-06T05:00:00+01:00"),
        datetime.fromisoformat("2026-12-06T07:00:00+01:00"),
        BERLIN,
    )
    payload = notice.payload()
    assert payload["kind"] == "announcement" and payload["schedule"] == "monthly"
    assert payload["subject"] == notice.subject and payload["text"] == notice.text
    assert payload["window"] == {
        "start": "2026-12-06T04:00:00+00:00",
        "end": "2026-12-06T06:00:00+00:00",
        "timezone": "Europe/Berlin",
    }
    assert [t["name"] for t in payload["tasks"]] == ["vacuum_analyze", "retention", "log_cleanup"]
    assert all(t["description"] for t in payload["tasks"])
    assert "run" not in payload


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (START.replace(tzinfo=None), END, "needs a time zone"),
        (START, END.replace(tzinfo=None), "needs a time zone"),
        (END, START, "must end after it starts"),
        (START, START, "must end after it starts"),
        (START, datetime.fromisoformat("2026-12-14T03:00:00+00:00"), "at most 7 days"),
    ],
)
def test_the_window_is_validated(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        announcement(load_schedules()["weekly"], start, end, ZULU)


def test_the_operator_replaces_a_template_and_keeps_the_other(tmp_path: Path) -> None:
    (tmp_path / "announcement.txt").write_text(
        "Subject: [ops] $schedule on $start_utc\n\nDowntime $duration, costs $$0.\n$tasks\n"
    )
    notice = announcement(load_schedules()["weekly"], START, END, ZULU, tmp_path)
    assert notice.subject == "[ops] weekly on 2026-12-06 03:00 UTC"
    assert notice.text.startswith("Downtime 1 h 30 min, costs $0.\n- analyze: ")
    assert notice.template == str(tmp_path / "announcement.txt")
    # No completion.txt there: the built-in one is used.
    done = completion(run(), ZULU, tmp_path)
    assert done.template == "built-in completion template"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Subject: $schedule\n\n$nonsense\n", r"uses \$nonsense, which is not a placeholder"),
        ("Hello $schedule\n", "must start with a 'Subject: …' line"),
        ("Subject: x\n\ncosts $ 5\n", r"write \$\$ for a dollar sign"),
    ],
)
def test_a_broken_template_is_a_clear_error(tmp_path: Path, template: str, message: str) -> None:
    (tmp_path / "announcement.txt").write_text(template)
    with pytest.raises(InvalidArgument, match=message):
        announcement(load_schedules()["weekly"], START, END, ZULU, tmp_path)


def test_a_template_dir_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="is not a directory"):
        announcement(load_schedules()["weekly"], START, END, ZULU, tmp_path / "nope")


def test_the_completion_notice_reports_the_recorded_run() -> None:
    notice = completion(run(), BERLIN)
    assert notice.subject == (
        "Maintenance of the CV evaluation service completed successfully (weekly)"
    )
    assert "Duration:  42 min" in notice.text
    assert "- analyze: ok — 5 tables analysed" in notice.text
    assert "Issues:\n- none" in notice.text
    assert "mnt_01TEST" in notice.text
    payload = notice.payload()
    assert payload["kind"] == "completion"
    assert payload["window"]["end"] == "2026-12-06T03:42:00+00:00"
    assert payload["run"]["id"] == "mnt_01TEST" and payload["run"]["status"] == "ok"


def test_a_failed_run_says_so_and_lists_its_issues() -> None:
    issues = [{"source": "task analyze", "status": "failed", "summary": "lock timeout"}]
    notice = completion(run("failed", issues=issues), ZULU)
    assert "failed" in notice.subject
    assert "- task analyze: failed: lock timeout" in notice.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"finished_at": None, "status": "running"}, "has not finished"),
        ({"kind": "notification"}, "is a notification entry"),
    ],
)
def test_completion_needs_a_finished_procedure(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        completion(run(**changes), ZULU)  # type: ignore[arg-type]


def test_webhook_urls_are_shown_without_their_token() -> None:
    assert mask_url("https://hooks.example.com/services/T0/B0/s3cr3t") == (
        "https://hooks.example.com/…"
    )
    assert mask_url("http://127.0.0.1:8081") == "http://127.0.0.1:8081"
    assert mask_url("https://chat.example/hook?token=abc") == "https://chat.example/…"
    assert mask_url("https://user:pw@chat.example/") == "https://chat.example"
