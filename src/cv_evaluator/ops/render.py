"""Check reports for people (a table, Markdown) and for programs (JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cv_evaluator.ops.model import CheckReport, CheckResult, Status

STATUS_STYLES = {
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.CRITICAL: "bold red",
    Status.UNKNOWN: "magenta",
    Status.SKIPPED: "dim",
}


def report_json(report: CheckReport) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)


def _thresholds(result: CheckResult) -> str:
    return "; ".join(t.describe() for t in result.thresholds)


def print_table(report: CheckReport, console: Console, *, verbose: bool = False) -> None:
    table = Table(title=f"maintenance checks: {report.status.value}", expand=True)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("summary", ratio=3)
    table.add_column("thresholds", ratio=2, style="dim")
    for result in report.results:
        table.add_row(
            Text(result.status.value, style=STATUS_STYLES[result.status]),
            result.check,
            result.summary,
            _thresholds(result),
        )
    console.print(table)
    if verbose:
        for result in report.results:
            if result.details:
                console.print(f"[bold]{result.check}[/bold]")
                console.print_json(json.dumps(dict(result.details), default=str))
    console.print(
        f"overall {report.status.value} (exit {report.exit_code}); "
        f"{len(report.results)} checks in {report.duration_ms / 1000:.2f} s"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(report: CheckReport) -> str:
    lines = [
        f"# Maintenance checks: {report.status.value}",
        "",
        f"Started {report.started_at.isoformat(timespec='seconds')}, "
        f"{len(report.results)} checks in {report.duration_ms / 1000:.2f} s, "
        f"exit code {report.exit_code}.",
        "",
        "| status | check | summary | thresholds |",
        "|---|---|---|---|",
    ]
    for result in report.results:
        lines.append(
            f"| {result.status.value} | `{result.check}` | {_cell(result.summary)} "
            f"| {_cell(_thresholds(result))} |"
        )
    attention = [r for r in report.results if r.status in (Status.WARN, Status.CRITICAL)]
    if attention:
        lines += ["", "## Needs attention", ""]
        for result in attention:
            lines += [f"### `{result.check}`: {result.status.value}", "", result.summary, ""]
            if result.details:
                lines += ["```json", _json(result.details), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _json(value: Any) -> str:
    return json.dumps(dict(value), indent=2, default=str)
