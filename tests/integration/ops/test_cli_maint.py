"""`cv-evaluator maint` as an operator or cron uses it: output formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cv_evaluator.cli import main
from cv_evaluator.storage.migrate import upgrade
from tests.support.backends import Databases


@pytest.fixture
def env(tmp_path: Path, backend: str, databases: Databases) -> dict[str, str]:
    data_dir = tmp_path / "data"
    url = databases.migrated_url(backend, data_dir)
    upgrade(url)  # PostgreSQL databases come migrated; a SQLite file starts empty
    return {
        "DATA_DIR": str(data_dir),
        "DB_URL": url,
        "LOG_DIR": str(tmp_path / "logs"),
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["maint", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_list_names_every_check_without_touching_anything(env: dict[str, str]) -> None:
    code, output = invoke(env, "check", "--list")
    assert code == 0
    for name in ("postgres.long_queries", "sqlite.integrity", "kafka.consumer_lag", "queue.depth"):
        assert name in output


def test_check_json_and_exit_code_follow_the_worst_status(env: dict[str, str]) -> None:
    code, output = invoke(env, "check", "--only", "queue.*,cross.*", "--format", "json")
    body = json.loads(output)
    assert code == body["exit_code"] == 0, output
    assert body["status"] == "OK"
    # A threshold set below what is measured turns the same check into a WARN, exit 1.
    code, output = invoke(
        {**env, "MAINT_DISK_WARN_FREE_RATIO": "0.9999", "MAINT_DISK_CRITICAL_FREE_RATIO": "0"},
        "check",
        "--only",
        "service.disk",
        "--format",
        "json",
    )
    body = json.loads(output)
    assert body["checks"][0]["status"] == "WARN"
    assert code == 1
    threshold_settings = {t["setting"] for t in body["checks"][0]["thresholds"]}
    assert "MAINT_DISK_WARN_FREE_RATIO" in threshold_settings


def test_check_markdown_and_table(env: dict[str, str]) -> None:
    code, output = invoke(env, "check", "--only", "cross.*", "--format", "markdown")
    assert code == 0
    assert output.startswith("# Maintenance checks: OK")
    assert "| OK | `cross.unfinished_lag` |" in output
    code, output = invoke(env, "check", "--only", "cross.unfinished_lag")
    assert code == 0 and "cross.unfinished_lag" in output and "exit 0" in output


def test_unknown_check_is_a_usage_error(env: dict[str, str]) -> None:
    code, output = invoke(env, "check", "--only", "nope.*")
    assert code == 2 and "no check matches" in output


def test_run_then_report_in_every_format(env: dict[str, str], tmp_path: Path) -> None:
    code, output = invoke(env, "run", "daily", "--dry-run", "--actor", "cron")
    assert output.startswith("# Maintenance daily (dry run):")
    assert "started by cron" in output
    code_of_run = code
    code, output = invoke(env, "report", "--format", "json")
    body = json.loads(output)
    assert code == 0 and body["schedule"] == "daily" and body["dry_run"] is True
    # No service listens here, so the post-maintenance checks are CRITICAL: the run says so.
    assert body["status"] == "critical" and code_of_run == 2
    assert {t["status"] for t in body["tasks"]} <= {"planned", "skipped"}
    page = tmp_path / "report.html"
    code, _ = invoke(env, "report", "--run", body["id"], "--format", "html", "-o", str(page))
    assert code == 0 and body["id"] in page.read_text()
    code, output = invoke(env, "report", "--since", "2000-01-01")
    assert code == 0 and "# Maintenance daily (dry run)" in output


def test_report_with_nothing_on_record_says_so(env: dict[str, str]) -> None:
    code, output = invoke(env, "report")
    assert code == 1 and "no maintenance run on record" in output


def test_schedules_and_tasks_are_listed(env: dict[str, str]) -> None:
    code, output = invoke(env, "schedules")
    assert code == 0 and "quarterly" in output and "never" in output
    code, output = invoke(env, "tasks")
    assert code == 0 and "retention" in output and "capacity_review" in output


def test_mode_start_status_stop_from_the_command_line(env: dict[str, str]) -> None:
    code, output = invoke(
        env, "mode", "start", "--reason", "disk swap", "--duration", "15m", "--bypass-token"
    )
    assert code == 0, output
    assert "maintenance mode ON: disk swap" in output
    assert "X-Maintenance-Bypass: " in output and "only its hash is stored" in output
    code, output = invoke(env, "mode", "status", "--json")
    status = json.loads(output)
    assert status["enabled"] and status["reason"] == "disk swap"
    assert status["bypass_token"] == "set" and status["in_flight_jobs"] == 0
    assert status["history"][0]["actor"].endswith(status["started_by"].split("@")[-1])
    code, output = invoke(env, "mode", "stop", "--reason", "swapped")
    assert code == 0 and "maintenance mode off" in output
    code, output = invoke(env, "mode", "start", "--reason", "x", "--duration", "9d")
    assert code == 1 and "at most 7 days" in output
