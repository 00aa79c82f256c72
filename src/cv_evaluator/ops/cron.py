"""The schedules as crontab lines or systemd timer units, for hosts that run them that way.

Both follow the schedules' timing in the scheduler's time zone, and call the same commands the
scheduler performs: `maint window run NAME` for window schedules, `maint run NAME` for the others.
Cron ORs day-of-month and day-of-week, so "the first Sunday" is days 1-7 of the month plus a test
of the weekday in the command (with ``%`` escaped, as crontab requires); systemd's OnCalendar
ANDs them and needs no such test.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cv_evaluator.ops.calendar import Timing
from cv_evaluator.ops.schedules import Schedule

_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class CronOptions:
    """Where the service lives on the host; the defaults match deploy/cron/ai-cv-evaluator."""

    user: str | None = "cv-evaluator"  # None: a personal crontab, which has no user column
    bin_dir: str = "/opt/ai-cv-evaluator/.venv/bin"
    env_file: str = "/etc/ai-cv-evaluator/env"
    log_file: str = "/var/log/ai-cv-evaluator/maintenance.log"
    unit_prefix: str = "ai-cv-evaluator-maint"


def procedure(schedule: Schedule, actor: str) -> list[str]:
    """The `cv-evaluator` arguments that perform ``schedule`` as the scheduler would."""
    verb = ["window", "run"] if schedule.window else ["run"]
    return ["maint", *verb, schedule.name, "--actor", actor]


def _kind(schedule: Schedule) -> str:
    return "maintenance window" if schedule.window else "plain run"


def _timed(schedules: Iterable[Schedule]) -> tuple[list[Schedule], list[Schedule]]:
    items = list(schedules)
    return [s for s in items if s.timing], [s for s in items if not s.timing]


def _days_of_month(timing: Timing) -> str:
    assert timing.nth_weekday is not None
    first = (timing.nth_weekday - 1) * 7 + 1
    return f"{first}-{first + 6}"


def cron_fields(timing: Timing) -> str:
    """minute hour day-of-month month day-of-week."""
    months = ",".join(str(m) for m in timing.months) or "*"
    day_of_month, day_of_week = "*", "*"
    if timing.nth_weekday is not None:
        day_of_month = _days_of_month(timing)
    elif timing.weekday is not None:
        day_of_week = str((timing.weekday + 1) % 7)  # cron: 0 is Sunday
    return f"{timing.at.minute} {timing.at.hour} {day_of_month} {months} {day_of_week}"


def crontab(schedules: Iterable[Schedule], zone: ZoneInfo, options: CronOptions) -> str:
    timed, untimed = _timed(schedules)
    where = (
        "/etc/cron.d/ai-cv-evaluator" if options.user else "the service user's crontab (crontab -e)"
    )
    lines = [
        "# AI CV Evaluator maintenance schedules: the output of `cv-evaluator maint cron`.",
        f"# Install as {where}.",
        "# Each line reads the service's environment file and appends to the log. A procedure",
        "# that finds another one running exits 2 (CONFLICT) and is not retried before its next",
        "# slot; `cv-evaluator maint scheduler` waits instead (docs/operations.md).",
        "# CRON_TZ is honoured by cronie; other crons use the system time zone.",
        "SHELL=/bin/sh",
        f"PATH={options.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        f"CRON_TZ={zone.key}",
    ]
    user = f" {options.user}" if options.user else ""
    environment = f"set -a; . {shlex.quote(options.env_file)}; set +a"
    output = f">>{shlex.quote(options.log_file)} 2>&1"
    for schedule in timed:
        timing = schedule.timing
        assert timing is not None
        command = "cv-evaluator " + shlex.join(procedure(schedule, "cron"))
        guard = ""
        if timing.nth_weekday is not None:
            assert timing.weekday is not None
            # `date +%u`: 1 is Monday, 7 Sunday; % starts a new line in crontab unless escaped.
            today = f"$(TZ={zone.key} date +\\%u)"
            guard = f'[ "{today}" = {timing.weekday + 1} ] || exit 0; '
        lines += [
            "",
            f"# {schedule.name}: {timing.describe()} ({_kind(schedule)})",
            f"{cron_fields(timing)}{user} {guard}{environment}; {command} {output}",
        ]
    for schedule in untimed:
        lines += ["", f"# {schedule.name}: no `at` in the schedules file, run by hand only"]
    return "\n".join(lines) + "\n"


def on_calendar(timing: Timing, zone: ZoneInfo) -> str:
    day = "*"
    if timing.nth_weekday is not None:
        first = (timing.nth_weekday - 1) * 7 + 1
        day = f"{first:02d}..{first + 6:02d}"
    months = ",".join(f"{m:02d}" for m in timing.months) or "*"
    weekday = f"{_SYSTEMD_DAYS[timing.weekday]} " if timing.weekday is not None else ""
    return f"{weekday}*-{months}-{day} {timing.at:%H:%M}:00 {zone.key}"


def systemd_units(schedules: Iterable[Schedule], zone: ZoneInfo, options: CronOptions) -> str:
    """One .service and one .timer per timed schedule, each headed by the path to install it at."""
    timed, _untimed = _timed(schedules)
    blocks: list[str] = [
        "# AI CV Evaluator maintenance schedules as systemd units: the output of\n"
        "# `cv-evaluator maint cron --format systemd`. Install each block at the path in its\n"
        "# header, then: systemctl daemon-reload && systemctl enable --now "
        f"{options.unit_prefix}-*.timer\n"
        "# Persistent=true runs a slot missed while the host was down once, at the next boot.\n"
    ]
    for schedule in timed:
        timing = schedule.timing
        assert timing is not None
        unit = f"{options.unit_prefix}-{schedule.name}"
        command = shlex.join([f"{options.bin_dir}/cv-evaluator", *procedure(schedule, "systemd")])
        service = [
            f"# ==> /etc/systemd/system/{unit}.service <==",
            "[Unit]",
            f"Description=AI CV Evaluator maintenance: {schedule.name} ({_kind(schedule)})",
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
        ]
        if options.user:
            service.append(f"User={options.user}")
        service += [f"EnvironmentFile={options.env_file}", f"ExecStart={command}"]
        timer = [
            f"# ==> /etc/systemd/system/{unit}.timer <==",
            "[Unit]",
            f"Description=AI CV Evaluator maintenance: {schedule.name}, {timing.describe()}",
            "",
            "[Timer]",
            f"OnCalendar={on_calendar(timing, zone)}",
            "Persistent=true",
            "",
            "[Install]",
            "WantedBy=timers.target",
        ]
        blocks += ["\n".join(service) + "\n", "\n".join(timer) + "\n"]
    return "\n".join(blocks)
