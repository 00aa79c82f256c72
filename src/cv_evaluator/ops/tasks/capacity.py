"""capacity_review (quarterly): how much work arrives, how fast it is done, how fast data grows.

A read-only report, a task because it is done on a schedule and its figures belong in the
maintenance log next to the work done. It answers the questions of a capacity review:

- traffic: uploads and evaluations per day over the last ``DAILY_WINDOW_DAYS`` calendar days (UTC);
- queue: jobs arriving vs jobs ending per hour over the last ``THROUGHPUT_WINDOW_DAYS`` days, the
  busiest hour, and the capacity the measured processing time allows;
- storage: rows and bytes per table now, rows added per day, and the disk forecast from the free
  space the maintenance runs recorded (``ops/resources.py``);
- the effective ``DB_``/``KAFKA_``/``AI_`` configuration (secrets masked), to read beside it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskOutcome, TaskStatus
from cv_evaluator.ops.registry import task
from cv_evaluator.ops.resources import (
    DiskSample,
    disk_figures,
    disk_history,
    forecast,
    watched_paths,
)
from cv_evaluator.ops.tasks.database import SERVICE_TABLES, human_bytes, join_sql, quote
from cv_evaluator.storage.engine import sqlite_path
from cv_evaluator.storage.types import UtcDateTime

DAILY_WINDOW_DAYS = 30
THROUGHPUT_WINDOW_DAYS = 7
DISK_HISTORY_DAYS = 90
CONFIG_PREFIXES = ("DB_", "KAFKA_", "AI_")
# The column that dates a row of each table, for "rows added per day".
_DATED_BY = {
    "uploads": "created_at",
    "jobs": "created_at",
    "results": "created_at",
    "callbacks": "created_at",
    "maintenance_runs": "started_at",
}


@dataclass(frozen=True, slots=True)
class Buckets:
    """Per-dialect SQL that turns a UTC timestamp column into a day or hour label.

    Both give the same text (``YYYY-MM-DD`` / ``YYYY-MM-DD HH``): SQLite stores these columns as
    ISO text, PostgreSQL as ``timestamp without time zone`` holding UTC.
    """

    postgresql: bool

    def day(self, column: str) -> str:
        if self.postgresql:
            return f"to_char({column}, 'YYYY-MM-DD')"
        return f"substr({column}, 1, 10)"

    def hour(self, column: str) -> str:
        if self.postgresql:
            return f"to_char({column}, 'YYYY-MM-DD HH24')"
        return f"substr({column}, 1, 13)"

    def seconds_between(self, start: str, end: str) -> str:
        if self.postgresql:
            return f"EXTRACT(EPOCH FROM ({end} - {start}))"
        return f"(julianday({end}) - julianday({start})) * 86400.0"


def day_labels(today: date, days: int) -> list[str]:
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def hour_label(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H")


class _Reader:
    """Runs the report's queries and keeps their text for the task's actions."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.actions: list[str] = []

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        statement = text(sql)
        for name in params:
            if name.startswith("since"):
                statement = statement.bindparams(bindparam(name, type_=UtcDateTime()))
        self.actions.append(sql)
        result = await self.connection.execute(statement, params)
        return [tuple(row) for row in result.all()]

    async def counts(self, sql: str, **params: Any) -> dict[str, int]:
        return {str(label): int(count) for label, count in await self.rows(sql, **params)}


async def _traffic(reader: _Reader, buckets: Buckets, now: datetime) -> dict[str, Any]:
    today = now.astimezone(UTC).date()
    labels = day_labels(today, DAILY_WINDOW_DAYS)
    since = datetime.combine(today - timedelta(days=DAILY_WINDOW_DAYS - 1), day_start(), UTC)
    uploads = await reader.counts(
        join_sql(
            "SELECT",
            buckets.day("created_at"),
            "AS day, count(*) FROM uploads",
            "WHERE created_at >= :since GROUP BY day",
        ),
        since=since,
    )
    created = await reader.counts(
        join_sql(
            "SELECT",
            buckets.day("created_at"),
            "AS day, count(*) FROM jobs",
            "WHERE created_at >= :since GROUP BY day",
        ),
        since=since,
    )
    ended_rows = await reader.rows(
        join_sql(
            "SELECT",
            buckets.day("finished_at"),
            "AS day, status, count(*) FROM jobs",
            "WHERE finished_at >= :since AND status IN ('completed', 'failed')",
            "GROUP BY day, status",
        ),
        since=since,
    )
    ended = {(str(day), str(status)): int(count) for day, status, count in ended_rows}
    days: list[dict[str, Any]] = [
        {
            "day": label,
            "uploads": uploads.get(label, 0),
            "evaluations": created.get(label, 0),
            "completed": ended.get((label, "completed"), 0),
            "failed": ended.get((label, "failed"), 0),
        }
        for label in labels
    ]
    return {
        "window_days": DAILY_WINDOW_DAYS,
        "since": since.isoformat(),
        "days": days,
        "uploads_total": sum(d["uploads"] for d in days),
        "evaluations_total": sum(d["evaluations"] for d in days),
        "uploads_per_day": round(sum(d["uploads"] for d in days) / DAILY_WINDOW_DAYS, 2),
        "evaluations_per_day": round(sum(d["evaluations"] for d in days) / DAILY_WINDOW_DAYS, 2),
    }


async def _throughput(
    reader: _Reader, buckets: Buckets, now: datetime, app_workers: int
) -> dict[str, Any]:
    since = now - timedelta(days=THROUGHPUT_WINDOW_DAYS)
    hours = THROUGHPUT_WINDOW_DAYS * 24
    arrivals = await reader.counts(
        join_sql(
            "SELECT",
            buckets.hour("created_at"),
            "AS hour, count(*) FROM jobs",
            "WHERE created_at >= :since GROUP BY hour",
        ),
        since=since,
    )
    ended = await reader.counts(
        join_sql(
            "SELECT",
            buckets.hour("finished_at"),
            "AS hour, count(*) FROM jobs",
            "WHERE finished_at >= :since AND status IN ('completed', 'failed') GROUP BY hour",
        ),
        since=since,
    )
    processing = await reader.rows(
        join_sql(
            "SELECT count(*), avg(",
            buckets.seconds_between("started_at", "finished_at"),
            ")",
            "FROM jobs WHERE status = 'completed' AND finished_at >= :since",
            "AND started_at IS NOT NULL",
        ),
        since=since,
    )
    completed, mean_seconds = processing[0]
    mean = float(mean_seconds) if completed and mean_seconds is not None else None
    busiest = max(arrivals, key=lambda h: (arrivals[h], h)) if arrivals else None
    peak = max(ended, key=lambda h: (ended[h], h)) if ended else None
    per_worker = 3600.0 / mean if mean else None
    estimated = per_worker * app_workers if per_worker is not None and app_workers else None
    return {
        "window_days": THROUGHPUT_WINDOW_DAYS,
        "since": since.isoformat(),
        "arrived": sum(arrivals.values()),
        "ended": sum(ended.values()),
        "arrivals_per_hour": round(sum(arrivals.values()) / hours, 3),
        "throughput_per_hour": round(sum(ended.values()) / hours, 3),
        "backlog_change": sum(arrivals.values()) - sum(ended.values()),
        "busiest_hour": None
        if busiest is None
        else {"hour": busiest, "arrivals": arrivals[busiest], "ended": ended.get(busiest, 0)},
        "peak_throughput": None if peak is None else {"hour": peak, "ended": ended[peak]},
        "completed": int(completed),
        "mean_processing_seconds": None if mean is None else round(mean, 3),
        "capacity_per_worker_per_hour": None if per_worker is None else round(per_worker, 1),
        "app_workers": app_workers,
        "estimated_capacity_per_hour": None if estimated is None else round(estimated, 1),
    }


async def _table_bytes(ctx: OpsContext, reader: _Reader) -> tuple[dict[str, int] | None, str]:
    """Bytes per table, indexes included, and how they were measured."""
    if ctx.is_postgresql:
        sizes = {}
        for table in SERVICE_TABLES:
            (size,) = (await reader.rows(f"SELECT pg_total_relation_size('{quote(ctx, table)}')"))[
                0
            ]
            sizes[table] = int(size)
        return sizes, "pg_total_relation_size"
    try:
        pages = await reader.rows("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
    except OperationalError:
        # dbstat is a compile-time option of SQLite; without it only the file size is known.
        return None, "file size (SQLite built without the dbstat table)"
    owners = dict(
        await reader.rows(
            "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
        )
    )
    sizes = dict.fromkeys(SERVICE_TABLES, 0)
    for name, size in pages:
        owner = owners.get(name)
        if owner in sizes:
            sizes[owner] += int(size)
    return sizes, "dbstat"


async def _database_bytes(ctx: OpsContext, reader: _Reader) -> int:
    if ctx.is_postgresql:
        (size,) = (await reader.rows("SELECT pg_database_size(current_database())"))[0]
        return int(size)
    path = sqlite_path(ctx.settings.database_url)
    if path is None:
        return 0
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists():
            total += candidate.stat().st_size
    return total


async def _tables(ctx: OpsContext, reader: _Reader, now: datetime) -> dict[str, Any]:
    since = now - timedelta(days=DAILY_WINDOW_DAYS)
    sizes, measured_by = await _table_bytes(ctx, reader)
    tables: dict[str, Any] = {}
    growth_bytes = 0.0
    for table in SERVICE_TABLES:
        name = quote(ctx, table)
        rows = int((await reader.rows(join_sql("SELECT count(*) FROM", name)))[0][0])
        recent = int(
            (
                await reader.rows(
                    join_sql("SELECT count(*) FROM", name, "WHERE", _DATED_BY[table], ">= :since"),
                    since=since,
                )
            )[0][0]
        )
        size = None if sizes is None else sizes[table]
        per_day = recent / DAILY_WINDOW_DAYS
        bytes_per_day = (size / rows) * per_day if size is not None and rows else None
        growth_bytes += bytes_per_day or 0.0
        tables[table] = {
            "rows": rows,
            "bytes": size,
            "rows_added_last_30_days": recent,
            "rows_per_day": round(per_day, 2),
            "bytes_per_day": None if bytes_per_day is None else round(bytes_per_day),
        }
    return {
        "tables": tables,
        "bytes_measured_by": measured_by,
        "database_bytes": await _database_bytes(ctx, reader),
        "growth_bytes_per_day": round(growth_bytes) if sizes is not None else None,
    }


async def _disks(ctx: OpsContext, now: datetime) -> dict[str, Any]:
    disks: dict[str, Any] = {}
    for label, path in watched_paths(ctx).items():
        current = disk_figures(path)
        history = await disk_history(ctx, label, days=DISK_HISTORY_DAYS)
        samples = [*history, DiskSample(now, int(current["free_bytes"]))]
        disks[label] = {**current, "forecast": forecast(samples).as_dict()}
    return disks


def effective_configuration(ctx: OpsContext) -> dict[str, Any]:
    return {
        name: value
        for name, value in ctx.settings.effective().items()
        if name.startswith(CONFIG_PREFIXES)
    }


def _queue_sentence(throughput: dict[str, Any]) -> str:
    busiest = throughput["busiest_hour"]
    sentence = f"arrivals {throughput['arrivals_per_hour']:.1f}/h"
    if busiest is not None:
        sentence += f" (busiest hour {busiest['arrivals']})"
    mean = throughput["mean_processing_seconds"]
    peak = throughput["peak_throughput"]
    peak_text = f"peak seen {peak['ended']}/h" if peak else "nothing ended"
    if throughput["estimated_capacity_per_hour"] is not None:
        sentence += (
            f" vs capacity ≈ {throughput['estimated_capacity_per_hour']:.0f}/h "
            f"(APP_WORKERS={throughput['app_workers']} at {mean:.1f} s a job; {peak_text})"
        )
    elif throughput["capacity_per_worker_per_hour"] is not None:
        sentence += (
            f" vs ≈ {throughput['capacity_per_worker_per_hour']:.0f}/h per worker "
            f"({mean:.1f} s a job; {peak_text})"
        )
    else:
        sentence += f" vs capacity unknown (no job completed in {THROUGHPUT_WINDOW_DAYS} days)"
    return sentence


def _disk_sentence(disks: dict[str, Any]) -> str:
    data = disks.get("data")
    if data is None:
        return "no data disk figures"
    outlook = data["forecast"]
    if outlook["days_until_full"] is not None:
        return f"data disk full in {outlook['days_until_full']:.0f} days at the current rate"
    if outlook["growth_bytes_per_day"] is not None:
        return "data disk not filling up"
    return f"no data-disk forecast yet ({outlook['reason']})"


@task(
    "capacity_review",
    description=(
        "Quarterly capacity report (read-only): traffic per day, arrivals vs throughput, table "
        "growth, disk forecast and the DB_/KAFKA_/AI_ configuration."
    ),
)
async def capacity_review(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    now = ctx.clock.now()
    started = time.perf_counter()
    buckets = Buckets(postgresql=ctx.is_postgresql)
    async with ctx.engine.connect() as connection:
        reader = _Reader(connection)
        traffic = await _traffic(reader, buckets, now)
        throughput = await _throughput(reader, buckets, now, ctx.settings.app_workers)
        storage = await _tables(ctx, reader, now)
    disks = await _disks(ctx, now)
    figures: dict[str, Any] = {
        "at": now.isoformat(),
        "traffic": traffic,
        "throughput": throughput,
        "storage": storage,
        "disks": disks,
        "configuration": effective_configuration(ctx),
        "seconds": round(time.perf_counter() - started, 3),
    }
    growth = storage["growth_bytes_per_day"]
    database = f"database {human_bytes(storage['database_bytes'])}"
    if growth is not None:
        database += f", ~{human_bytes(growth)}/day"
    summary = "; ".join([_queue_sentence(throughput), _disk_sentence(disks), database])
    actions = [*reader.actions, "disk figures and forecast for " + ", ".join(disks)]
    # A dry run changes nothing either way; it reports the same, marked as a dry run.
    status = TaskStatus.PLANNED if dry_run else TaskStatus.OK
    return TaskOutcome(status, summary, figures, actions)
