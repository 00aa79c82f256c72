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
