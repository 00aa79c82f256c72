"""The shipped cron file and CI workflow: in step with the schedules and the command line."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import pytest
import yaml
from click.testing import CliRunner

from cv_evaluator.cli import main
from cv_evaluator.ops.calendar import next_slot
from cv_evaluator.ops.cron import CronOptions, cron_fields, crontab, on_calendar, systemd_units
from cv_evaluator.ops.schedules import load_schedules

ROOT = Path(__file__).resolve().parents[3]
CRON_FILE = ROOT / "deploy" / "cron" / "ai-cv-evaluator"
WORKFLOW = ROOT / ".github" / "workflows" / "maintenance.yml"
# The defaults, whatever the developer's environment says.
DEFAULT_ENV: dict[str, str | None] = {
    "MAINT_SCHEDULER_TIMEZONE": None,
    "MAINT_SCHEDULES_FILE": None,
}


def cli(*args: str, env: dict[str, str | None] | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env={**DEFAULT_ENV, **(env or {})})
    assert result.exit_code == 0, result.output
    return result.output


def resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The command that ``cv-evaluator ARGS`` names, and the arguments left for it."""
    command: click.Command = main
    rest = list(args)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def check_invocation(args: list[str]) -> None:
    """Every word names a subcommand or an option the command has."""
    command, rest = resolve(args)
    assert not isinstance(command, click.Group), f"`{shlex.join(args)}` names no command"
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in rest:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"`{shlex.join(args)}`: no option {word}"
    help_text = CliRunner().invoke(main, [*args[: len(args) - len(rest)], "--help"])
    assert help_text.exit_code == 0, help_text.output


def invocations(text: str) -> list[list[str]]:
    """The arguments of each `cv-evaluator …` call in shell text, up to its first operator."""
    found = []
    for line in text.splitlines():
        lexer = shlex.shlex(line.replace("\\%", "%"), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
        for i, word in enumerate(words):
            at_command = i == 0 or set(words[i - 1]) <= set("();|&")
            if at_command and word.endswith("cv-evaluator"):
                args = []
                for arg in words[i + 1 :]:
                    if set(arg) <= set("();<>|&"):
                        break
                    args.append(arg)
                if args:
                    found.append(args)
    return found


def has_window_command() -> bool:
    maint = main.commands["maint"]
    assert isinstance(maint, click.Group)
    return "window" in maint.commands


# --- the cron file


def test_the_shipped_cron_file_is_the_output_of_maint_cron() -> None:
    assert CRON_FILE.read_text() == cli("maint", "cron"), (
        "deploy/cron/ai-cv-evaluator is stale: write `cv-evaluator maint cron` into it"
    )


def test_cron_lines_follow_the_default_schedules() -> None:
    text = CRON_FILE.read_text()
    assert "CRON_TZ=UTC" in text
    jobs = [line for line in text.splitlines() if line and not line.startswith(("#", "SHELL"))]
    jobs = [line for line in jobs if not re.match(r"^[A-Z_]+=", line)]
    assert [" ".join(line.split()[:6]) for line in jobs] == [
        "0 2 * * * cv-evaluator",
        "0 3 * * 0 cv-evaluator",
        "0 4 1-7 * * cv-evaluator",
        "0 6 1-7 1,4,7,10 * cv-evaluator",
    ]
    # Cron ORs day-of-month and day-of-week: "first Sunday" is days 1-7 and a Sunday test.
    for line in jobs[2:]:
        assert '[ "$(TZ=UTC date +\\%u)" = 7 ] || exit 0;' in line
    # Every % is escaped (crontab turns a bare % into a newline).
    assert re.search(r"(?<!\\)%", text) is None
    assert [args[:3] for args in invocations(text)] == [
        ["maint", "run", "daily"],
        ["maint", "window", "run"],
        ["maint", "window", "run"],
        ["maint", "window", "run"],
    ]
    assert all(line.endswith(">>/var/log/ai-cv-evaluator/maintenance.log 2>&1") for line in jobs)
    assert all(". /etc/ai-cv-evaluator/env;" in line for line in jobs)


def test_every_cron_command_is_valid_shell_and_names_real_commands() -> None:
    text = CRON_FILE.read_text()
    for line in text.splitlines():
        if line and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line):
            command = line.split(None, 6)[6].replace("\\%", "%")
            checked = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
            assert checked.returncode == 0, (command, checked.stderr)
    for args in invocations(text):
        if args[:2] == ["maint", "window"] and not has_window_command():
            continue
        check_invocation(args)


def test_the_zone_and_the_options_reach_the_lines() -> None:
    text = cli(
        "maint",
        "cron",
        "--user",
        "",
        "--bin-dir",
        "/srv/cv/bin",
        "--log-file",
        "/tmp/m.log",
        env={"MAINT_SCHEDULER_TIMEZONE": "Europe/Berlin"},
    )
    assert "CRON_TZ=Europe/Berlin" in text and "PATH=/srv/cv/bin:" in text
    assert "TZ=Europe/Berlin date" in text
    # A personal crontab has no user column.
    assert "\n0 2 * * * set -a;" in text
    assert ">>/tmp/m.log 2>&1" in text


def test_a_schedule_without_a_time_is_left_out_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "schedules.toml"
    path.write_text(
        '[nightly]\nat = "01:15"\nweekday = "monday"\ntasks = ["log_cleanup"]\n'
        '[adhoc]\nevery_days = 3\ntasks = ["log_cleanup"]\n'
    )
    text = cli("maint", "cron", env={"MAINT_SCHEDULES_FILE": str(path)})
    assert "15 1 * * 1 cv-evaluator" in text
    assert "# adhoc: no `at` in the schedules file, run by hand only" in text
    assert "maint run adhoc" not in text


def test_cron_fields_per_timing() -> None:
    schedules = load_schedules()
    fields = {name: cron_fields(s.timing) for name, s in schedules.items() if s.timing}
    assert fields == {
        "daily": "0 2 * * *",
        "weekly": "0 3 * * 0",
        "monthly": "0 4 1-7 * *",
        "quarterly": "0 6 1-7 1,4,7,10 *",
    }


# --- systemd


def test_systemd_units_per_schedule() -> None:
    text = cli("maint", "cron", "--format", "systemd")
    for name in ("daily", "weekly", "monthly", "quarterly"):
        assert f"# ==> /etc/systemd/system/ai-cv-evaluator-maint-{name}.service <==" in text
        assert f"# ==> /etc/systemd/system/ai-cv-evaluator-maint-{name}.timer <==" in text
    assert "OnCalendar=*-*-* 02:00:00 UTC" in text
    assert "OnCalendar=Sun *-*-* 03:00:00 UTC" in text
    assert "OnCalendar=Sun *-*-01..07 04:00:00 UTC" in text
    assert "OnCalendar=Sun *-01,04,07,10-01..07 06:00:00 UTC" in text
    assert "ExecStart=/opt/ai-cv-evaluator/.venv/bin/cv-evaluator maint run daily" in text
    assert "User=cv-evaluator" in text and "EnvironmentFile=/etc/ai-cv-evaluator/env" in text
    assert text.count("\nPersistent=true\n") == 4
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            args = shlex.split(line.removeprefix("ExecStart="))[1:]
            if args[:2] != ["maint", "window"] or has_window_command():
                check_invocation(args)


def test_systemd_calendar_agrees_with_the_scheduler() -> None:
    """systemd's own reading of each OnCalendar gives the slots the scheduler computes."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: run scripts/ensure-test-services")
    for zone in (ZoneInfo("UTC"), ZoneInfo("Europe/Berlin")):
        for schedule in load_schedules().values():
            assert schedule.timing is not None
            spec = on_calendar(schedule.timing, zone)
            now = datetime.now(UTC)
            result = subprocess.run(
                [analyze, "calendar", "--iterations=4", spec],
                capture_output=True,
                text=True,
                env={**os.environ, "TZ": "UTC", "LC_ALL": "C"},
                check=True,
            )
            theirs = [
                datetime.strptime(m, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                for m in re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", result.stdout)
            ]
            ours = [next_slot(schedule.timing, now, zone)]
            while len(ours) < 4:
                ours.append(next_slot(schedule.timing, ours[-1], zone))
            assert theirs == ours, (spec, result.stdout)


def test_renderers_take_their_options() -> None:
    schedules = list(load_schedules().values())
    options = CronOptions(user="svc", bin_dir="/b", env_file="/e", log_file="/l")
    assert " svc " in crontab(schedules, ZoneInfo("UTC"), options)
    units = systemd_units(schedules, ZoneInfo("UTC"), options)
    assert (
        "User=svc" in units
        and "EnvironmentFile=/e" in units
        and "ExecStart=/b/cv-evaluator" in units
    )


# --- the CI workflow


def load_workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def run_scripts(workflow: dict[Any, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


def test_the_workflow_runs_weekly_and_on_demand() -> None:
    workflow = load_workflow()
    # YAML 1.1 reads the key `on` as true.
    triggers: dict[str, Any] = workflow.get("on", workflow.get(True)) or {}
    assert triggers["schedule"] == [{"cron": "0 3 * * 0"}]  # Sunday 03:00 UTC, the weekly slot
    weekly = load_schedules()["weekly"].timing
    assert weekly is not None and cron_fields(weekly) == "0 3 * * 0"
    schedule_input = triggers["workflow_dispatch"]["inputs"]["schedule"]
    assert schedule_input["default"] == "weekly"
    assert set(schedule_input["options"]) == set(load_schedules())


def test_the_workflow_performs_the_window_and_always_uploads_the_report() -> None:
    workflow = load_workflow()
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    names = [step.get("uses", step.get("name")) for step in steps]
    assert "actions/upload-artifact@v4" in names
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == {"report.html", "report.md"}
    report = next(s for s in steps if s.get("name") == "Report")
    assert report["if"] == "always()"
    calls = [args for script in run_scripts(workflow) for args in invocations(script)]
    assert ["maint", "window", "run"] in [c[:3] for c in calls]
    assert any(c[:2] == ["maint", "report"] and "html" in c for c in calls)
    assert any(c[:2] == ["maint", "report"] and "markdown" in c for c in calls)


def test_every_workflow_command_exists_and_every_script_parses() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    for script in run_scripts(load_workflow()):
        plain = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)
        checked = subprocess.run([bash, "-n", "-c", plain], capture_output=True, text=True)
        assert checked.returncode == 0, (script, checked.stderr)
        for args in invocations(plain):
            if args[:2] == ["maint", "window"] and not has_window_command():
                continue
            check_invocation(args)
