"""Checks of the SQLite database file: integrity, size, write-ahead log, free pages, statistics.

They read the file through the standard library's ``sqlite3`` with a read-only URI
(``file:...?mode=ro``), never through the service's engine: that engine switches the journal mode
on connect, and a check must not change anything, nor be able to by mistake.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from cv_evaluator.ops.checks.service import human_bytes
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.grading import above
from cv_evaluator.ops.model import CheckSkipped, Outcome, Status, Threshold
from cv_evaluator.ops.registry import check, needs_sqlite
from cv_evaluator.storage.engine import sqlite_path
from cv_evaluator.storage.tables import metadata

GROUP = "sqlite"
T = TypeVar("T")
# Problems listed by an integrity check: the first ones say where the damage is; a thousand more
# add nothing and take time.
MAX_PROBLEMS = 100
SHOWN_PROBLEMS = 10
# Statistics are stale when a table's row count moved by more than this factor since ANALYZE;
# below it the planner's choice of index rarely changes. Tables that stay under
# STALE_MIN_ROWS rows are never stale: any plan is fast on them.
STALE_FACTOR = 10
STALE_MIN_ROWS = 1000
ANALYZE_TASKS = ("analyze", "vacuum_analyze")
# How often (in SQLite virtual-machine steps) a running check looks whether it was cancelled.
_PROGRESS_STEPS = 10_000
_CORRUPTION_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


class DatabaseFileMissing(Exception):
    def __init__(self, path: Path) -> None:
        super().__init__(f"the database file {path} does not exist")
        self.path = path


def database_file(ctx: OpsContext) -> Path:
    path = sqlite_path(ctx.settings.database_url)
    if path is None or str(path) == ":memory:":
        raise CheckSkipped("the SQLite database is in memory: there is no file to check")
    return path


async def read_only(path: Path, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` on a read-only connection, in a thread; cancelling the caller stops it."""
    cancelled = threading.Event()

    def run() -> T:
        # mode=ro never creates a missing file, but its error would not say which file.
        if not path.exists():
            raise DatabaseFileMissing(path)
        uri = f"{path.absolute().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=1.0)
        try:
            # A check cut short by its time limit must not keep reading the whole file
            # in a thread nobody waits for.
            connection.set_progress_handler(lambda: 1 if cancelled.is_set() else 0, _PROGRESS_STEPS)
            return work(connection)
        finally:
            connection.close()

    try:
        return await asyncio.to_thread(run)
    except asyncio.CancelledError:
        cancelled.set()
        raise


def is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _CORRUPTION_CODES:
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def _missing(path: Path, thresholds: Sequence[Threshold] = ()) -> Outcome:
    return Outcome(
        Status.CRITICAL,
        f"the database file {path} does not exist: wrong DATA_DIR/DB_URL, or the file was "
        "lost (restore the latest backup)",
        {"database": str(path), "exists": False},
        thresholds,
    )


# --- integrity ------------------------------------------------------------------------------


async def _integrity(ctx: OpsContext, pragma: str) -> Outcome:
    path = database_file(ctx)

    def work(connection: sqlite3.Connection) -> list[str]:
        rows = connection.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
        # One row may hold several problems, one per line, under a "*** in database" header.
        return [
            line.strip()
            for row in rows
            for line in str(row[0]).splitlines()
            if line.strip() and not line.startswith("*** in database")
        ]

    details: dict[str, Any] = {"database": str(path), "pragma": pragma}
    try:
        problems = await read_only(path, work)
    except DatabaseFileMissing:
        return _missing(path)
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        problems = [str(exc)]
    if problems == ["ok"]:
        return Outcome(Status.OK, f"{pragma}: ok ({path})", {**details, "problems": []})
    details["problems"] = problems[:SHOWN_PROBLEMS]
    details["problem_count"] = len(problems)
    details["problem_count_capped"] = len(problems) >= MAX_PROBLEMS
    count = f"{len(problems)}{'+' if len(problems) >= MAX_PROBLEMS else ''}"
    return Outcome(
        Status.CRITICAL,
        f"{path} is corrupt: {pragma} found {count} problem(s), first: {problems[0]!r}; stop "
        "writes, keep a copy of the file and restore the latest verified backup",
        details,
    )


@check(
    "sqlite.integrity",
    group=GROUP,
    description="PRAGMA quick_check of the database file (reads every page, skips index "
    "cross-checks).",
    applies=needs_sqlite,
)
async def integrity(ctx: OpsContext) -> Outcome:
    return await _integrity(ctx, "quick_check")


@check(
    "sqlite.integrity_full",
    group=GROUP,
    description="PRAGMA integrity_check: quick_check plus index/table consistency (slower; "
    "weekly).",
    applies=needs_sqlite,
)
async def integrity_full(ctx: OpsContext) -> Outcome:
    return await _integrity(ctx, "integrity_check")


# --- files ----------------------------------------------------------------------------------


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@check(
    "sqlite.files",
    group=GROUP,
    description="Size of the database file and of its write-ahead log (-wal).",
    applies=needs_sqlite,
)
async def files(ctx: OpsContext) -> Outcome:
    path = database_file(ctx)
    warn = ctx.threshold("maint_sqlite_wal_warn_mb", "warn above", "MiB")
    if not path.exists():
        return _missing(path, [warn])
    file_bytes = _size(path)
    wal_bytes = _size(path.with_name(path.name + "-wal"))
    details = {
        "database": str(path),
        "file_bytes": file_bytes,
        "wal_bytes": wal_bytes,
        "shm_bytes": _size(path.with_name(path.name + "-shm")),
        # What the database occupies on disk, the figure the metrics report.
        "database_bytes": file_bytes + wal_bytes,
    }
    status = above(wal_bytes / (1024 * 1024), warn)
    summary = f"database {human_bytes(file_bytes)}, write-ahead log {human_bytes(wal_bytes)}"
    if status is not Status.OK:
        summary = (
            f"write-ahead log {human_bytes(wal_bytes)} (database {human_bytes(file_bytes)}): "
            "checkpoints cannot keep up or a long-lived reader holds them back; look for a "
            "stuck process, then the vacuum_analyze task truncates it"
        )
    return Outcome(status, summary, details, [warn])


# --- free pages -----------------------------------------------------------------------------


@check(
    "sqlite.freelist",
    group=GROUP,
    description="Free (reclaimable) pages of the database file: PRAGMA freelist_count over "
    "page_count.",
    applies=needs_sqlite,
)
async def freelist(ctx: OpsContext) -> Outcome:
    path = database_file(ctx)
    warn = ctx.threshold("maint_sqlite_freelist_warn_ratio", "warn above", "of the pages")

    def work(connection: sqlite3.Connection) -> tuple[int, int, int]:
        pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
        free = int(connection.execute("PRAGMA freelist_count").fetchone()[0])
        page_size = int(connection.execute("PRAGMA page_size").fetchone()[0])
        return pages, free, page_size

    try:
        pages, free, page_size = await read_only(path, work)
    except DatabaseFileMissing:
        return _missing(path, [warn])
    ratio = free / pages if pages else 0.0
    reclaimable = free * page_size
    details = {
        "database": str(path),
        "page_count": pages,
        "freelist_count": free,
        "page_size": page_size,
        "free_ratio": round(ratio, 4),
        "reclaimable_bytes": reclaimable,
    }
    status = above(ratio, warn)
    summary = f"{free} of {pages} pages free ({ratio:.1%}, {human_bytes(reclaimable)} reclaimable)"
    if status is not Status.OK:
        summary += (
            "; the monthly vacuum_analyze task reclaims it (VACUUM rewrites the file and holds "
            "the write lock meanwhile: run it in a quiet hour)"
        )
    return Outcome(status, summary, details, [warn])


# --- statistics -----------------------------------------------------------------------------


def is_stale(analysed_rows: int, actual_rows: int) -> bool:
    high, low = max(analysed_rows, actual_rows), min(analysed_rows, actual_rows)
    return high >= STALE_MIN_ROWS and high > STALE_FACTOR * max(low, 1)


def last_analyze(tasks_columns: Sequence[Any]) -> datetime | None:
    """When the last successful analyze or vacuum_analyze task started, from the log's rows."""
    latest: datetime | None = None
    for raw in tasks_columns:
        try:
            tasks = json.loads(raw) if isinstance(raw, str | bytes) else raw
        except ValueError:
            continue
        if not isinstance(tasks, list):
            continue
        for entry in tasks:
            if not isinstance(entry, Mapping):
                continue
            if entry.get("task") not in ANALYZE_TASKS or entry.get("status") != "ok":
                continue
            try:
                started = datetime.fromisoformat(str(entry.get("started_at")))
            except ValueError:
                continue
            if started.tzinfo is not None and (latest is None or started > latest):
                latest = started
    return latest


@dataclass(frozen=True, slots=True)
class Statistics:
    gathered: bool  # sqlite_stat1 exists: ANALYZE ran at least once
    analysed_rows: dict[str, int]  # per table, the row count ANALYZE saw
    actual_rows: dict[str, int]
    last_task: datetime | None


def _read_statistics(connection: sqlite3.Connection) -> Statistics:
    names = {
        str(row[0])
        for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    analysed: dict[str, int] = {}
    gathered = "sqlite_stat1" in names
    if gathered:
        for table, stat in connection.execute("SELECT tbl, stat FROM sqlite_stat1"):
            # The first number of a stat1 row is the table's row count at ANALYZE time.
            first = str(stat or "").split(" ", 1)[0]
            if first.isdigit():
                analysed[str(table)] = max(analysed.get(str(table), 0), int(first))
    actual = {}
    for table in metadata.sorted_tables:
        if table.name in names:
            # The names come from the schema declared in code, not from input.
            query = f'SELECT count(*) FROM "{table.name}"'  # noqa: S608
            actual[table.name] = int(connection.execute(query).fetchone()[0])
    runs: list[Any] = []
    if "maintenance_runs" in names:
        runs = [
            row[0]
            for row in connection.execute("SELECT tasks FROM maintenance_runs WHERE dry_run = 0")
        ]
    return Statistics(gathered, analysed, actual, last_analyze(runs))


@check(
    "sqlite.analyze",
    group=GROUP,
    description="Planner statistics (sqlite_stat1): gathered, current for today's row counts, "
    "and when the analyze task last ran.",
    applies=needs_sqlite,
)
async def analyze(ctx: OpsContext) -> Outcome:
    path = database_file(ctx)
    warn = ctx.threshold("maint_sqlite_analyze_warn_days", "warn when older than", "days")
    try:
        stats = await read_only(path, _read_statistics)
    except DatabaseFileMissing:
        return _missing(path, [warn])
    now = ctx.clock.now()
    tables = []
    stale = []
    for table, actual in stats.actual_rows.items():
        # A table absent from sqlite_stat1 was empty when ANALYZE ran (SQLite writes no row).
        analysed = stats.analysed_rows.get(table, 0)
        table_stale = stats.gathered and is_stale(analysed, actual)
        tables.append(
            {"table": table, "analysed_rows": analysed, "rows": actual, "stale": table_stale}
        )
        if table_stale:
            stale.append(f"{table} (analysed at {analysed} rows, now {actual})")
    age_days = None
    if stats.last_task is not None:
        age_days = (now - stats.last_task) / timedelta(days=1)
    details: dict[str, Any] = {
        "database": str(path),
        "statistics_gathered": stats.gathered,
        "tables": tables,
        "last_analyze_task": None if stats.last_task is None else stats.last_task.isoformat(),
        "last_analyze_task_age_days": None if age_days is None else round(age_days, 2),
        "method": (
            "SQLite records no ANALYZE time: statistics count as stale when a table's row count "
            f"moved by more than {STALE_FACTOR}x (and past {STALE_MIN_ROWS} rows) since the "
            "count sqlite_stat1 holds; the time is that of the last successful analyze or "
            "vacuum_analyze task in the maintenance log"
        ),
    }
    problems = []
    # On tables this small every plan is fast; missing statistics only matter past them.
    if not stats.gathered and any(rows > STALE_MIN_ROWS for rows in stats.actual_rows.values()):
        problems.append("statistics never gathered (no sqlite_stat1): the planner guesses")
    if stale:
        problems.append("stale statistics for " + ", ".join(stale))
    if age_days is not None and above(age_days, warn) is Status.WARN:
        problems.append(f"the last analyze task ran {age_days:.0f} days ago")
    if problems:
        return Outcome(
            Status.WARN,
            "; ".join(problems) + "; the weekly schedule's analyze task gathers them",
            details,
            [warn],
        )
    when = (
        "no analyze task on record"
        if age_days is None
        else f"last analyze task {age_days:.1f} days ago"
    )
    state = (
        f"statistics current for {len(tables)} tables"
        if stats.gathered
        else f"no statistics yet, not needed while every table has at most {STALE_MIN_ROWS} rows"
    )
    return Outcome(
        Status.OK,
        f"{state}; {when}",
        details,
        [warn],
    )
