"""The maintenance log entry and report of a run, as Markdown, JSON or a standalone HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cv_evaluator.ops.runs import SUCCESSFUL_STATUSES, MaintenanceRun


def next_due(
    run: MaintenanceRun, every_days: float | None, last_success: datetime | None
) -> datetime | None:
    """Next run of the schedule: one period after its last success (or after this run)."""
    if every_days is None:
        return None
    base = last_success or run.started_at
    return base + timedelta(days=every_days)


def _figure_rows(run: MaintenanceRun) -> list[tuple[str, str, str]]:
    """(figure, before, after) for disk space and database size/rows."""
    rows: list[tuple[str, str, str]] = []
    before, after = run.before, run.after
    for label, disk in before.get("disk", {}).items():
        later = after.get("disk", {}).get(label, {})
        rows.append(
            (
                f"free space, {label} ({disk.get('path')})",
                _bytes(disk.get("free_bytes")),
                _bytes(later.get("free_bytes")),
            )
        )
    db_before, db_after = before.get("database", {}), after.get("database", {})
    rows.append(
        (
            "database size",
            _bytes(db_before.get("database_bytes")),
            _bytes(db_after.get("database_bytes")),
        )
    )
    for table, count in db_before.get("rows", {}).items():
        rows.append((f"rows in {table}", str(count), str(db_after.get("rows", {}).get(table, "—"))))
    return rows


def _bytes(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "—"


def _duration(run: MaintenanceRun) -> str:
    if run.duration_seconds is None:
        return "not finished (still running, or the process died)"
    return f"{run.duration_seconds:.1f} s"


def _completed(run: MaintenanceRun) -> str:
    ok = sum(1 for t in run.tasks if t.get("status") in ("ok", "planned"))
    skipped = sum(1 for t in run.tasks if t.get("status") == "skipped")
    return f"{ok} of {len(run.tasks)}" + (f" ({skipped} skipped)" if skipped else "")


def report_dict(
    run: MaintenanceRun, *, every_days: float | None, last_success: datetime | None
) -> dict[str, Any]:
    due = next_due(run, every_days, last_success)
    return {
        **run.as_dict(),
        "successful": run.status in SUCCESSFUL_STATUSES,
        "tasks_completed": _completed(run),
        "post_maintenance_status": run.checks.get("status"),
        "next_due": due.isoformat() if due else None,
    }


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(
    run: MaintenanceRun, *, every_days: float | None, last_success: datetime | None
) -> str:
    due = next_due(run, every_days, last_success)
    title = f"# Maintenance {run.schedule}{' (dry run)' if run.dry_run else ''}: {run.status}"
    if run.kind == "drill":
        title = f"# Disaster-recovery drill: {run.status}"
    lines = [
        title,
        "",
        f"- run: `{run.id}`",
        f"- date: {_when(run.started_at)} → {_when(run.finished_at)}",
        f"- type: {run.schedule} ({run.kind}), started by {run.actor} on {run.host}",
        f"- duration: {_duration(run)}",
        f"- tasks completed: {_completed(run)}",
        f"- post-maintenance status: {run.checks.get('status', 'not checked')}",
        f"- next {run.schedule} run due: {_when(due)}",
        "",
        "## Tasks",
        "",
        "| task | status | duration | summary |",
        "|---|---|---|---|",
    ]
    for t in run.tasks:
        lines.append(
            f"| `{t.get('task')}` | {t.get('status')} | {t.get('duration_ms', 0) / 1000:.1f} s "
            f"| {_cell(t.get('summary', ''))} |"
        )
    if not run.tasks:
        lines.append("| — | — | — | no task ran |")
    lines += _window_markdown(run)
    lines += ["", "## Issues encountered", ""]
    lines += [f"- **{i['status']}** {i['source']}: {i['summary']}" for i in run.issues] or ["None."]
    lines += ["", "## Post-maintenance checks", ""]
    checks: Sequence[Mapping[str, Any]] = run.checks.get("checks", [])
    if checks:
        lines += ["| status | check | summary |", "|---|---|---|"]
        lines += [f"| {c['status']} | `{c['check']}` | {_cell(c['summary'])} |" for c in checks]
    else:
        lines.append("Not run (the run did not get that far).")
    lines += ["", "## Resources and database, before and after", ""]
    lines += ["| figure | before | after |", "|---|---|---|"]
    lines += [f"| {_cell(a)} | {b} | {c} |" for a, b, c in _figure_rows(run)]
    actions = [(t.get("task"), a) for t in run.tasks for a in t.get("actions", [])]
    if actions:
        lines += ["", "## Actions", ""]
        lines += [f"- `{task}`: `{_cell(action)}`" for task, action in actions]
    return "\n".join(lines) + "\n"


def _steps_markdown(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        "| step | status | duration | summary |",
        "|---|---|---|---|",
        *(
            f"| {s['step']} | {s['status']} | {s['seconds']:.1f} s | {_cell(s['summary'])} |"
            for s in steps
        ),
    ]


def _steps_html(steps: Sequence[Mapping[str, Any]]) -> str:
    return _table(
        ["step", "status", "duration", "summary"],
        [
            (
                _esc(s["step"]),
                _status(s["status"]),
                _esc(f"{s['seconds']:.1f} s"),
                _esc(s["summary"]),
            )
            for s in steps
        ],
    )


def _window(run: MaintenanceRun) -> dict[str, Any] | None:
    window = run.checks.get("window")
    return window if isinstance(window, dict) else None


def _seconds(value: Any) -> str:
    return "—" if value is None else f"{float(value):g} s"


def _hours(value: Any) -> str:
    if value is None:
        return "—"
    seconds = float(value)
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _drill_facts(drill: Mapping[str, Any]) -> list[tuple[str, str]]:
    failover = drill.get("failover")
    facts = [
        ("backup", str(drill.get("backup_id", "—"))),
        (
            "RTO (restore + files + service ready and smoke test passed)",
            _seconds(drill.get("rto_seconds")),
        ),
        ("restore into scratch", _seconds(drill.get("restore_seconds"))),
        ("files", _seconds(drill.get("files_seconds"))),
        ("service started and smoke-tested", _seconds(drill.get("service_seconds"))),
        (
            "RPO now (age of the newest verified backup before the drill)",
            _hours(drill.get("rpo_seconds")),
        ),
        (
            "jobs since that backup (lost in a disaster now)",
            str(drill.get("rpo_jobs_since_previous_backup", "—")),
        ),
        ("RPO at worst under the schedules", f"{drill.get('rpo_worst_case_hours', '—')} h"),
    ]
    if isinstance(failover, Mapping):
        facts.append(
            (
                "failover",
                f"{failover.get('jobs')} jobs, {failover.get('lost')} lost, settled "
                f"{failover.get('takeover_seconds')} s after the kill",
            )
        )
    return facts


def _window_markdown(run: MaintenanceRun) -> list[str]:
    drill = run.checks.get("drill")
    if isinstance(drill, Mapping):
        lines = ["", "## Disaster-recovery drill", "", "| figure | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in _drill_facts(drill)]
        return [*lines, "", *_steps_markdown(drill.get("steps", []))]
    window = _window(run)
    if window is None:
        return []
    lines = [
        "",
        "## Window",
        "",
        f"**Maintenance mode at the end: {window.get('mode')}.** {window.get('mode_note', '')}",
        "",
        *_steps_markdown(window.get("steps", [])),
    ]
    monitor = window.get("monitor", [])
    if monitor:
        lines += [
            "",
            "### Monitoring after reopening",
            "",
            "| minute | status | health | ready | 5xx rate | problems |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {m['minute']} | {m['status']} | {'ok' if m['health'] else 'FAILED'} "
            f"| {'ok' if m['readiness'] else 'FAILED'} | {_rate(m.get('error_rate'))} "
            f"| {_cell('; '.join(m['problems']) or '—')} |"
            for m in monitor
        ]
    return lines


def _rate(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1%}"


def _window_html(run: MaintenanceRun) -> str:
    drill = run.checks.get("drill")
    if isinstance(drill, Mapping):
        return "\n".join(
            [
                "<h3>Disaster-recovery drill</h3>",
                _table(["figure", "value"], [(_esc(k), _esc(v)) for k, v in _drill_facts(drill)]),
                _steps_html(drill.get("steps", [])),
            ]
        )
    window = _window(run)
    if window is None:
        return ""
    parts = [
        "<h3>Window</h3>",
        f"<p><b>Maintenance mode at the end: {_status(window.get('mode'))}.</b> "
        f"{_esc(window.get('mode_note', ''))}</p>",
        _steps_html(window.get("steps", [])),
    ]
    monitor = window.get("monitor", [])
    if monitor:
        parts += [
            "<h4>Monitoring after reopening</h4>",
            _table(
                ["minute", "status", "health", "ready", "5xx rate", "problems"],
                [
                    (
                        _esc(m["minute"]),
                        _status(m["status"]),
                        _esc("ok" if m["health"] else "FAILED"),
                        _esc("ok" if m["readiness"] else "FAILED"),
                        _esc(_rate(m.get("error_rate"))),
                        _esc("; ".join(m["problems"]) or "—"),
                    )
                    for m in monitor
                ],
            ),
        ]
    return "\n".join(parts)


def report_json(
    runs: Sequence[MaintenanceRun], *, every_days: Mapping[str, float], last: Mapping[str, datetime]
) -> str:
    body = [
        report_dict(r, every_days=every_days.get(r.schedule), last_success=last.get(r.schedule))
        for r in runs
    ]
    return json.dumps(body[0] if len(body) == 1 else body, indent=2, default=str)


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-size:.9em}
.ok{color:#1a7f37}.warn{color:#9a6700}.critical,.failed{color:#cf222e;font-weight:bold}
.unknown{color:#8250df}.skipped,.planned{color:#666}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _status(value: Any) -> str:
    return f'<span class="{_esc(str(value).lower())}">{_esc(value)}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _run_html(run: MaintenanceRun, every_days: float | None, last: datetime | None) -> str:
    due = next_due(run, every_days, last)
    facts = [
        ("run", f"<code>{_esc(run.id)}</code>"),
        ("date", _esc(f"{_when(run.started_at)} → {_when(run.finished_at)}")),
        ("type", _esc(f"{run.schedule} ({run.kind}), started by {run.actor} on {run.host}")),
        ("duration", _esc(_duration(run))),
        ("tasks completed", _esc(_completed(run))),
        ("post-maintenance status", _status(run.checks.get("status", "not checked"))),
        (f"next {run.schedule} run due", _esc(_when(due))),
    ]
    parts = [
        f"<h2>Maintenance {_esc(run.schedule)}{' (dry run)' if run.dry_run else ''}: "
        f"{_status(run.status)}</h2>",
        _table(["", ""], [(f"<b>{_esc(k)}</b>", v) for k, v in facts]),
        "<h3>Tasks</h3>",
        _table(
            ["task", "status", "duration", "summary"],
            [
                (
                    f"<code>{_esc(t.get('task'))}</code>",
                    _status(t.get("status")),
                    _esc(f"{t.get('duration_ms', 0) / 1000:.1f} s"),
                    _esc(t.get("summary", "")),
                )
                for t in run.tasks
            ],
        ),
        _window_html(run),
        "<h3>Issues encountered</h3>",
        "<ul>"
        + "".join(
            f"<li>{_status(i['status'])} {_esc(i['source'])}: {_esc(i['summary'])}</li>"
            for i in run.issues
        )
        + "</ul>"
        if run.issues
        else "<p>None.</p>",
        "<h3>Post-maintenance checks</h3>",
        _table(
            ["status", "check", "summary"],
            [
                (_status(c["status"]), f"<code>{_esc(c['check'])}</code>", _esc(c["summary"]))
                for c in run.checks.get("checks", [])
            ],
        ),
        "<h3>Resources and database, before and after</h3>",
        _table(
            ["figure", "before", "after"],
            [(_esc(a), _esc(b), _esc(c)) for a, b, c in _figure_rows(run)],
        ),
    ]
    return "\n".join(parts)


def report_html(
    runs: Sequence[MaintenanceRun], *, every_days: Mapping[str, float], last: Mapping[str, datetime]
) -> str:
    sections = "\n<hr>\n".join(
        _run_html(r, every_days.get(r.schedule), last.get(r.schedule)) for r in runs
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>AI CV Evaluator maintenance report</title><style>{_STYLE}</style></head>"
        f"<body><h1>AI CV Evaluator maintenance report</h1>\n{sections}\n</body></html>\n"
    )
