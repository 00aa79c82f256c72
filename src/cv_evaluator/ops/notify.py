"""Maintenance notifications for users: the announcement of a window and the completion notice.

A notice is rendered from a plain-text template (``string.Template``: ``$name`` placeholders) whose
first line is ``Subject: …``. The built-in templates live in ``ops/data/notify_*.txt``; a
directory named by MAINT_NOTIFY_TEMPLATE_DIR replaces either of them (``announcement.txt``,
``completion.txt``). A notice can be POSTed to a webhook as JSON; the URL may carry a token, so
it is only ever shown as ``scheme://host/…``.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from cv_evaluator.domain.errors import InvalidArgument, Unavailable
from cv_evaluator.ops.runs import MaintenanceRun
from cv_evaluator.ops.schedules import Schedule

ANNOUNCEMENT = "announcement"
COMPLETION = "completion"
TEMPLATE_FILES = {ANNOUNCEMENT: "announcement.txt", COMPLETION: "completion.txt"}
MAX_WINDOW = timedelta(days=7)

IMPACT_WINDOW = (
    "- New uploads and evaluation requests are refused with HTTP 503 (error code MAINTENANCE)\n"
    "  and a Retry-After header saying when to try again.\n"
    "- Results of earlier evaluations stay readable (GET /v1/result/{id}).\n"
    "- Evaluations already accepted are not lost: those in progress finish first, queued ones\n"
    "  are processed after the window."
)
IMPACT_NONE = (
    "- None expected: the service stays open; responses may be slower while the work runs."
)
OUTCOMES = {
    "ok": "completed successfully",
    "warn": "completed with warnings",
    "unknown": "completed (some checks could not tell)",
    "critical": "completed, but a check is critical",
    "failed": "failed",
    "skipped": "was skipped",
}

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # announcement | completion
    schedule: str
    subject: str
    text: str
    start: datetime
    end: datetime
    timezone: str
    tasks: tuple[dict[str, str], ...]
    template: str  # where the template came from
    run: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body a webhook receives."""
        body: dict[str, Any] = {
            "kind": self.kind,
            "schedule": self.schedule,
            "subject": self.subject,
            "text": self.text,
            "window": {
                "start": self.start.astimezone(UTC).isoformat(),
                "end": self.end.astimezone(UTC).isoformat(),
                "timezone": self.timezone,
            },
            "tasks": list(self.tasks),
        }
        if self.run is not None:
            body["run"] = self.run
        return body

    def rendered(self) -> str:
        return f"Subject: {self.subject}\n\n{self.text}"


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str  # masked
    status_code: int
    attempts: int
    errors: list[str] = field(default_factory=list)


def mask_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to recognise the endpoint, never its token."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def load_template(kind: str, template_dir: Path | None) -> tuple[str, str]:
    """(template text, where it came from): the operator's file if present, else built-in."""
    if template_dir is not None:
        path = template_dir / TEMPLATE_FILES[kind]
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8"), str(path)
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidArgument(f"cannot read notification template {path}: {exc}") from None
        if not template_dir.is_dir():
            raise InvalidArgument(f"MAINT_NOTIFY_TEMPLATE_DIR {template_dir} is not a directory")
    builtin = resources.files("cv_evaluator.ops").joinpath(f"data/notify_{kind}.txt")
    return builtin.read_text(encoding="utf-8"), f"built-in {kind} template"


def render(template: str, source: str, values: dict[str, str]) -> tuple[str, str]:
    """(subject, text) of ``template`` filled with ``values``."""
    first, _, rest = template.partition("\n")
    if not first.startswith("Subject:"):
        raise InvalidArgument(f"{source} must start with a 'Subject: …' line")
    try:
        subject = string.Template(first.removeprefix("Subject:").strip()).substitute(values)
        text = string.Template(rest.lstrip("\n")).substitute(values)
    except KeyError as exc:
        raise InvalidArgument(
            f"{source} uses ${exc.args[0]}, which is not a placeholder of this notice",
            details={"placeholders": sorted(values)},
        ) from None
    except ValueError as exc:
        raise InvalidArgument(f"{source}: {exc} (write $$ for a dollar sign)") from None
    return subject, text.rstrip("\n") + "\n"


def check_window(start: datetime, end: datetime) -> None:
    for label, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidArgument(
                f"the window {label} needs a time zone, e.g. 2026-12-06T03:00:00Z or +01:00"
            )
    if end <= start:
        raise InvalidArgument("the window must end after it starts")
    if end - start > MAX_WINDOW:
        raise InvalidArgument("a maintenance window lasts at most 7 days")


def _duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes < 1:
        return f"{span.total_seconds():.0f} s"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p)


def _span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    label = "UTC" if zone.key == "UTC" else zone.key
    if a.date() == b.date():
        return f"{a:%a %d %b %Y, %H:%M}–{b:%H:%M} {label}"
    return f"{a:%a %d %b %Y, %H:%M} – {b:%a %d %b %Y, %H:%M} {label}"


def _task_rows(schedule: Schedule) -> tuple[dict[str, str], ...]:
    return tuple(
        {"name": spec.name, "description": spec.description} for spec in schedule.task_specs()
    )


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) if lines else "- none"


def announcement(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    template_dir: Path | None = None,
) -> Notice:
    """The notice that announces ``schedule`` performed between ``start`` and ``end``."""
    check_window(start, end)
    tasks = _task_rows(schedule)
    window_utc = _span(start, end, ZoneInfo("UTC"))
    window_local = _span(start, end, zone)
    values = {
        "schedule": schedule.name,
        "description": schedule.description or schedule.name,
        "window": window_utc if zone.key == "UTC" else f"{window_utc} ({window_local})",
        "window_utc": window_utc,
        "window_local": window_local,
        "start_utc": start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "end_utc": end.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "start_local": start.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        "end_local": end.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        "timezone": zone.key,
        "duration": _duration(end - start),
        "impact": IMPACT_WINDOW if schedule.window else IMPACT_NONE,
        "tasks": _bullets([f"{t['name']}: {t['description']}" for t in tasks]),
    }
    template, source = load_template(ANNOUNCEMENT, template_dir)
    subject, text = render(template, source, values)
    return Notice(
        kind=ANNOUNCEMENT,
        schedule=schedule.name,
        subject=subject,
        text=text,
        start=start,
        end=end,
        timezone=zone.key,
        tasks=tasks,
        template=source,
    )


def completion(run: MaintenanceRun, zone: ZoneInfo, template_dir: Path | None = None) -> Notice:
    """The notice that reports how the recorded ``run`` went."""
    if run.kind not in ("run", "window"):
        raise InvalidArgument(f"{run.id} is a {run.kind} entry, not a maintenance run or window")
    if run.finished_at is None:
        raise InvalidArgument(f"{run.id} has not finished (status {run.status})")
    tasks = tuple(
        {
            "name": str(t.get("task", t.get("step", "?"))),
            "status": str(t.get("status", "")),
            "summary": str(t.get("summary", "")),
        }
        for t in run.tasks
    )
    issues = [f"{i.get('source')}: {i.get('status')}: {i.get('summary')}" for i in run.issues]
    seconds = run.duration_seconds
    if seconds is None:
        seconds = (run.finished_at - run.started_at).total_seconds()
    values = {
        "schedule": run.schedule,
        "run_id": run.id,
        "status": run.status + (" (dry run)" if run.dry_run else ""),
        "outcome": OUTCOMES.get(run.status, f"ended with status {run.status}"),
        "started_utc": run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "finished_utc": run.finished_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration": _duration(timedelta(seconds=seconds)),
        "tasks": _bullets([f"{t['name']}: {t['status']} — {t['summary']}" for t in tasks]),
        "issues": _bullets(issues),
    }
    template, source = load_template(COMPLETION, template_dir)
    subject, text = render(template, source, values)
    return Notice(
        kind=COMPLETION,
        schedule=run.schedule,
        subject=subject,
        text=text,
        start=run.started_at,
        end=run.finished_at,
        timezone=zone.key,
        tasks=tasks,
        template=source,
        run={
            "id": run.id,
            "kind": run.kind,
            "status": run.status,
            "dry_run": run.dry_run,
            "duration_seconds": seconds,
            "issues": run.issues,
        },
    )


async def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float,
    attempts: int = 3,
    backoff_seconds: float = 1.0,
    sleep: Sleep = asyncio.sleep,
) -> Delivery:
    """POST ``payload`` as JSON; retry connection errors, time-outs and 5xx answers.

    Raises Unavailable when every attempt failed that way, InvalidArgument when the endpoint
    refused the notice (any other non-2xx answer: a wrong URL or token is not fixed by retrying).
    """
    shown = mask_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidArgument(f"webhook URL {shown} must be http:// or https://")
    errors: list[str] = []
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = await client.post(url, json=payload)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            else:
                if 200 <= response.status_code < 300:
                    return Delivery(shown, response.status_code, attempt, errors)
                reason = f"HTTP {response.status_code} {response.text[:200]}".strip()
                if response.status_code < 500:
                    raise InvalidArgument(
                        f"webhook {shown} refused the notification: {reason}",
                        details={"url": shown, "status": response.status_code, "attempts": attempt},
                    )
                errors.append(reason)
            if attempt < attempts:
                await sleep(backoff_seconds * 2 ** (attempt - 1))
    raise Unavailable(
        f"webhook {shown} failed after {attempts} attempts: {errors[-1]}",
        details={"url": shown, "attempts": attempts, "errors": errors},
    )
