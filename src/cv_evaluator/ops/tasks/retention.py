"""retention: delete ended jobs, their results and callbacks, and unused uploads past retention.

What goes: jobs that ended (``completed``/``failed``) before ``now - DATA_RETENTION_DAYS`` (by
``finished_at``, or ``created_at`` when it is missing), with their results and callbacks; then
uploads older than the cutoff that no remaining job references, with their original files under
``DATA_DIR/uploads``. ``queued`` and ``processing`` jobs are never touched, nor any upload a kept
job uses (the foreign keys would refuse it anyway).

How, so that the service never waits on it for long:

- Short batches of at most ``DATA_RETENTION_BATCH_SIZE`` ids, each its own transaction, with
  ``DATA_RETENTION_PAUSE_SECONDS`` between them (on SQLite at least ``SQLITE_MIN_PAUSE_SECONDS``,
  see there). A batch whose transaction takes longer than ``TARGET_BATCH_SECONDS`` halves the
  next one; quick batches grow it back to the setting. Ids are chosen by a read *before* the
  write transaction, so the transaction only deletes.
- Every delete repeats the eligibility condition, so a job that changed state between the choice
  and the delete (a dead-letter replay re-queues a failed job) is left alone; on PostgreSQL the
  batch's jobs are also locked first (``FOR UPDATE``) so none can change under it.
- Resumable: each batch of jobs commits with its children, so an interruption leaves whole jobs
  or none. For uploads the row is deleted first and the file after; see ``_delete_upload_batch``
  for why, and for the journal that lets the next run finish the files.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import TextClause, bindparam, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskOutcome, TaskStatus
from cv_evaluator.ops.registry import task
from cv_evaluator.ops.tasks.database import give_up_reason, human_bytes, join_sql
from cv_evaluator.storage.blobs import FileBlobStore
from cv_evaluator.storage.types import UtcDateTime

# A batch's transaction should end well within this; a second is what the API may wait at most.
TARGET_BATCH_SECONDS = 0.25
# Consecutive batches that fail (lock or statement time-out, busy database) before giving up.
MAX_CONSECUTIVE_FAILURES = 3
# SQLite has no queue of writers: one that finds the database locked sleeps and retries, every
# 100 ms at most once it has waited a while (SQLite's default busy handler). A pause shorter than
# that could end before the service's writer looks again, and retention would take the lock
# back every time: the writer would starve. A pause of at least one retry interval guarantees it
# the lock within one batch plus 100 ms.
SQLITE_MIN_PAUSE_SECONDS = 0.1
JOURNAL_NAME = "retention-pending-files.json"
LOCK_NAME = "retention.lock"
_LOOKUP_CHUNK = 1000
_PLAN_PAGE = 5000


def _ended(alias: str = "jobs", *, steer: bool = False) -> str:
    # `steer` (SQLite): a unary + keeps the planner off the status index, so the batch query
    # walks the primary key in id order (ids are time-ordered: the oldest jobs come first)
    # instead of sorting every ended job for each batch.
    status = ("+" if steer else "") + alias + ".status"
    finished = "COALESCE(" + alias + ".finished_at, " + alias + ".created_at)"
    return join_sql(status, "IN ('completed', 'failed') AND", finished, "< :cutoff")


def _unreferenced(*, sqlite: bool, by_kept_jobs_only: bool = False) -> str:
    """No job (or, for the plan, no job that the run keeps) references the upload.

    PostgreSQL answers NOT EXISTS with an anti-join. SQLite would run a correlated subquery as
    a scan of jobs per upload (``jobs.cv_id``/``project_id`` are not indexed); ``NOT IN`` makes it
    build one lookup table per statement instead (both columns are NOT NULL, so NOT IN is safe).
    """
    if sqlite:
        kept = join_sql("WHERE NOT (", _ended(), ")") if by_kept_jobs_only else ""
        return join_sql(
            *("uploads.id NOT IN (SELECT jobs.cv_id FROM jobs", kept, ")"),
            *("AND uploads.id NOT IN (SELECT jobs.project_id FROM jobs", kept, ")"),
        )
    kept = join_sql("AND NOT (", _ended(), ")") if by_kept_jobs_only else ""
    return join_sql(
        *("NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.cv_id = uploads.id", kept, ")"),
        *("AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.project_id = uploads.id", kept, ")"),
    )


@dataclass(frozen=True, slots=True)
class RetentionSql:
    """Every statement the task runs, as text: what a dry run shows is what a run executes."""

    select_jobs: str
    lock_jobs: str | None
    delete_callbacks: str
    delete_results: str
    delete_jobs: str
    select_uploads: str
    delete_uploads: str
    count_jobs: str
    count_results: str
    count_callbacks: str
    plan_uploads: str
    find_uploads: str

    @property
    def deletes(self) -> list[str]:
        batch = [self.delete_callbacks, self.delete_results, self.delete_jobs]
        return [
            self.select_jobs,
            *([self.lock_jobs] if self.lock_jobs else []),
            *batch,
            self.select_uploads,
            self.delete_uploads,
        ]


def retention_sql(*, sqlite: bool) -> RetentionSql:
    ended = _ended()
    of_batch = join_sql("(SELECT jobs.id FROM jobs WHERE jobs.id IN :ids AND", ended, ")")
    of_all = join_sql("(SELECT jobs.id FROM jobs WHERE", ended, ")")
    unused = join_sql("uploads.created_at < :cutoff AND", _unreferenced(sqlite=sqlite))
    planned_unused = join_sql(
        "uploads.created_at < :cutoff AND",
        _unreferenced(sqlite=sqlite, by_kept_jobs_only=True),
    )
    return RetentionSql(
        select_jobs=join_sql(
            "SELECT jobs.id FROM jobs WHERE jobs.id > :after AND",
            _ended(steer=sqlite),
            "ORDER BY jobs.id LIMIT :limit",
        ),
        lock_jobs=None
        if sqlite
        else join_sql("SELECT jobs.id FROM jobs WHERE jobs.id IN :ids AND", ended, "FOR UPDATE"),
        delete_callbacks=join_sql("DELETE FROM callbacks WHERE callbacks.job_id IN", of_batch),
        delete_results=join_sql("DELETE FROM results WHERE results.job_id IN", of_batch),
        delete_jobs=join_sql("DELETE FROM jobs WHERE jobs.id IN :ids AND", ended),
        select_uploads=join_sql(
            "SELECT uploads.id, uploads.storage_key FROM uploads WHERE uploads.id > :after AND",
            unused,
            "ORDER BY uploads.id LIMIT :limit",
        ),
        delete_uploads=join_sql(
            "DELETE FROM uploads WHERE uploads.id IN :ids AND",
            unused,
            "RETURNING uploads.id, uploads.storage_key",
        ),
        count_jobs=join_sql("SELECT count(*) FROM jobs WHERE", ended),
        count_results=join_sql("SELECT count(*) FROM results WHERE results.job_id IN", of_all),
        count_callbacks=join_sql(
            "SELECT count(*) FROM callbacks WHERE callbacks.job_id IN", of_all
        ),
        plan_uploads=join_sql(
            "SELECT uploads.id, uploads.storage_key, uploads.size_bytes FROM uploads",
            "WHERE uploads.id > :after AND",
            planned_unused,
            "ORDER BY uploads.id LIMIT :limit",
        ),
        find_uploads="SELECT uploads.id FROM uploads WHERE uploads.id IN :ids",
    )


def _statement(sql: str) -> TextClause:
    statement = text(sql)
    if ":ids" in sql:
        statement = statement.bindparams(bindparam("ids", expanding=True))
    if ":cutoff" in sql:
        statement = statement.bindparams(bindparam("cutoff", type_=UtcDateTime()))
    return statement


# ------------------------------------------------------------------------------ pacing and files


@dataclass(slots=True)
class Pacer:
    """Batch size that adapts to how long the database takes to delete one batch."""

    configured: int
    size: int = 0
    batches: int = 0
    longest_seconds: float = 0.0
    busy_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.size = self.size or self.configured

    def record(self, seconds: float) -> None:
        self.batches += 1
        self.busy_seconds += seconds
        self.longest_seconds = max(self.longest_seconds, seconds)
        if seconds > TARGET_BATCH_SECONDS:
            self.shrink()
        elif seconds < TARGET_BATCH_SECONDS / 4 and self.size < self.configured:
            self.size = min(self.configured, self.size * 2)

    def shrink(self) -> None:
        self.size = max(1, self.size // 2)


@dataclass(slots=True)
class FileTally:
    files: int = 0
    bytes: int = 0
    missing: int = 0  # rows whose file was already gone
    refused: list[str] = field(default_factory=list)  # keys that cannot name a file

    def add(self, other: FileTally) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.missing += other.missing
        self.refused += other.refused


class UploadFiles(FileBlobStore):
    """The upload store, with the whole-batch operations retention needs (one thread hop each).

    Built on the store itself so the key → path layout stays defined in one place.
    """

    @property
    def root(self) -> Path:
        return self._root

    def remove(self, keys: Sequence[str]) -> FileTally:
        tally = FileTally()
        for key in keys:
            try:
                path = self._path(key)
            except ValueError:
                tally.refused.append(key)
                continue
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                tally.missing += 1
                continue
            tally.files += 1
            tally.bytes += size
        return tally

    def measure(self, keys: Sequence[str]) -> FileTally:
        tally = FileTally()
        for key in keys:
            try:
                tally.bytes += self._path(key).stat().st_size
                tally.files += 1
            except ValueError:
                tally.refused.append(key)
            except FileNotFoundError:
                tally.missing += 1
        return tally


class Journal:
    """Uploads whose rows a batch is deleting; their files are removed only once the rows are.

    Written (atomically, and flushed to disk) before the batch's transaction and removed when its
    files are gone, so a run that dies in between leaves the list for the next one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, entries: Sequence[tuple[str, str]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        payload = json.dumps({"uploads": [list(e) for e in entries]})
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)

    def read(self) -> list[tuple[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [(str(upload_id), str(key)) for upload_id, key in data["uploads"]]

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """True when this run holds the lock; two runs would fight over the journal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------- the run


_TABLES = ("callbacks", "results", "jobs", "uploads")


@dataclass
class _Run:
    ctx: OpsContext
    sql: RetentionSql
    cutoff: datetime
    files: UploadFiles
    journal: Journal
    pacer: Pacer
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TABLES, 0))
    removed: FileTally = field(default_factory=FileTally)
    recovered: FileTally = field(default_factory=FileTally)
    executed: dict[str, list[int]] = field(default_factory=dict)  # sql → [times, rows]
    failures: int = 0
    stopped: str | None = None
    skipped_referenced: int = 0

    def note(self, sql: str, rows: int) -> None:
        counts = self.executed.setdefault(sql, [0, 0])
        counts[0] += 1
        counts[1] += rows

    @property
    def pause_seconds(self) -> float:
        configured = self.ctx.settings.data_retention_pause_seconds
        return max(configured, SQLITE_MIN_PAUSE_SECONDS) if self.ctx.is_sqlite else configured

    async def pause(self) -> None:
        if self.pacer.batches or self.failures:
            await asyncio.sleep(self.pause_seconds)

    async def begin_batch(self, connection: AsyncConnection) -> None:
        if self.ctx.is_postgresql:
            lock_ms = round(self.ctx.settings.maint_pg_lock_timeout_seconds * 1000)
            statement_ms = round(self.ctx.settings.maint_pg_statement_timeout_seconds * 1000)
            await connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{lock_ms}ms'")
            await connection.exec_driver_sql(f"SET LOCAL statement_timeout = '{statement_ms}ms'")

    def failed(self, exc: OperationalError) -> bool:
        """Count a failed batch; True when the run should stop."""
        self.failures += 1
        self.pacer.shrink()
        reason = give_up_reason(exc, self.ctx) or f"database error: {_first_line(exc.orig)}"
        if self.failures >= MAX_CONSECUTIVE_FAILURES:
            self.stopped = f"{self.failures} batches in a row failed, last: {reason}"
            return True
        return False

    def params(self, **values: Any) -> dict[str, Any]:
        return {"cutoff": self.cutoff, **values}

    async def select(self, sql: str, **values: Any) -> list[Any]:
        async with self.ctx.engine.connect() as connection:
            result = await connection.execute(_statement(sql), self.params(**values))
            return list(result.all())


def _first_line(exc: BaseException | None) -> str:
    message = str(exc).strip() if exc is not None else ""
    return message.splitlines()[0] if message else type(exc).__name__


async def _delete_jobs(run: _Run) -> None:
    sql = run.sql
    # Children first: the foreign keys of results and callbacks point at jobs.
    steps = (
        ("callbacks", sql.delete_callbacks),
        ("results", sql.delete_results),
        ("jobs", sql.delete_jobs),
    )
    after = ""
    while run.stopped is None:
        rows = await run.select(sql.select_jobs, after=after, limit=run.pacer.size)
        ids = [row[0] for row in rows]
        if not ids:
            return
        await run.pause()
        started = time.perf_counter()
        try:
            async with run.ctx.engine.begin() as connection:
                await run.begin_batch(connection)
                params = run.params(ids=ids)
                if sql.lock_jobs:
                    await connection.execute(_statement(sql.lock_jobs), params)
                counts = {}
                for table, statement in steps:
                    result = await connection.execute(_statement(statement), params)
                    counts[table] = result.rowcount
        except OperationalError as exc:
            if run.failed(exc):
                return
            continue
        run.failures = 0
        run.pacer.record(time.perf_counter() - started)
        if sql.lock_jobs:
            run.note(sql.lock_jobs, counts["jobs"])
        for table, statement in steps:
            run.rows[table] += counts[table]
            run.note(statement, counts[table])
        run.note(sql.select_jobs, len(ids))
        after = ids[-1]


async def _delete_upload_batch(run: _Run, batch: list[tuple[str, str]]) -> None:
    """Delete one batch of upload rows, then their files.

    Order: rows first, files after. A crash between the two then leaves files without rows,
    never a row without its file: had the files gone first, a job created meanwhile for one of
    those uploads would keep the row (the foreign key refuses the delete) while its original is
    already gone. Files without rows are finished by the next run from the journal, which lists
    the batch before the transaction starts; the next run removes the file of every listed upload
    whose row is gone and keeps the others.
    """
    await asyncio.to_thread(run.journal.write, batch)
    started = time.perf_counter()
    async with run.ctx.engine.begin() as connection:
        await run.begin_batch(connection)
        result = await connection.execute(
            _statement(run.sql.delete_uploads), run.params(ids=[i for i, _ in batch])
        )
        deleted = [(str(row[0]), str(row[1])) for row in result.all()]
    run.pacer.record(time.perf_counter() - started)
    run.rows["uploads"] += len(deleted)
    run.note(run.sql.delete_uploads, len(deleted))
    tally = await asyncio.to_thread(run.files.remove, [key for _, key in deleted])
    run.removed.add(tally)
    await asyncio.to_thread(run.journal.clear)


async def _delete_uploads(run: _Run) -> None:
    after = ""
    while run.stopped is None:
        rows = await run.select(run.sql.select_uploads, after=after, limit=run.pacer.size)
        batch = [(str(row[0]), str(row[1])) for row in rows]
        if not batch:
            return
        run.note(run.sql.select_uploads, len(batch))
        await run.pause()
        try:
            await _delete_upload_batch(run, batch)
        except IntegrityError:
            # A job was created for one of these uploads after they were chosen (PostgreSQL:
            # it was not yet committed when the delete checked). Narrow down to that upload and
            # leave it; the others go in smaller batches.
            await asyncio.to_thread(run.journal.clear)
            if run.pacer.size == 1:
                run.skipped_referenced += 1
                after = batch[0][0]
            run.pacer.shrink()
            continue
        except OperationalError as exc:
            await asyncio.to_thread(run.journal.clear)
            if run.failed(exc):
                return
            continue
        run.failures = 0
        after = batch[-1][0]


async def _finish_interrupted(run: _Run) -> int:
    """Remove the files an interrupted run left behind: listed, and their rows gone."""
    pending = await asyncio.to_thread(run.journal.read)
    if not pending:
        return 0
    ids = [upload_id for upload_id, _ in pending]
    present: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        rows = await run.select(run.sql.find_uploads, ids=ids[start : start + _LOOKUP_CHUNK])
        present.update(str(row[0]) for row in rows)
    orphaned = [key for upload_id, key in pending if upload_id not in present]
    run.recovered = await asyncio.to_thread(run.files.remove, orphaned)
    await asyncio.to_thread(run.journal.clear)
    return len(pending)


async def _reference_indexes(ctx: OpsContext) -> dict[str, bool]:
    """Whether jobs.cv_id / jobs.project_id lead an index (each deleted upload is checked)."""

    def indexed(sync_connection: Any) -> dict[str, bool]:
        indexes = inspect(sync_connection).get_indexes("jobs")
        leading = {index["column_names"][0] for index in indexes if index["column_names"]}
        return {column: column in leading for column in ("cv_id", "project_id")}

    async with ctx.engine.connect() as connection:
        return await connection.run_sync(indexed)


def _rows_text(rows: dict[str, int]) -> str:
    return (
        f"{rows['jobs']} jobs, {rows['results']} results, {rows['callbacks']} callbacks "
        f"and {rows['uploads']} uploads"
    )


@task(
    "retention",
    description=(
        "Delete ended jobs (with results and callbacks) and unused uploads (with their files) "
        "older than DATA_RETENTION_DAYS, in short batches that never hold up the service."
    ),
)
async def retention(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    settings = ctx.settings
    days = settings.data_retention_days
    cutoff = ctx.clock.now() - timedelta(days=days)
    sql = retention_sql(sqlite=ctx.is_sqlite)
    files = UploadFiles(settings.data_dir / "uploads")
    journal = Journal(settings.data_dir / JOURNAL_NAME)
    pause = settings.data_retention_pause_seconds
    floored = ctx.is_sqlite and pause < SQLITE_MIN_PAUSE_SECONDS
    pause = SQLITE_MIN_PAUSE_SECONDS if floored else pause
    head = [
        f"cutoff {cutoff.isoformat(timespec='seconds')} (DATA_RETENTION_DAYS={days:g})",
        f"batches of at most {settings.data_retention_batch_size} ids "
        f"(DATA_RETENTION_BATCH_SIZE), {pause:g} s apart (DATA_RETENTION_PAUSE_SECONDS"
        + (f"={settings.data_retention_pause_seconds:g}, SQLite floor" if floored else "")
        + ")",
    ]
    if ctx.is_postgresql:
        lock_ms = round(settings.maint_pg_lock_timeout_seconds * 1000)
        statement_ms = round(settings.maint_pg_statement_timeout_seconds * 1000)
        head.append(
            f"each batch: SET LOCAL lock_timeout = '{lock_ms}ms'; "
            f"SET LOCAL statement_timeout = '{statement_ms}ms'"
        )
    if dry_run:
        return await _plan(ctx, sql, cutoff, files, journal, head)
    with run_lock(settings.data_dir / LOCK_NAME) as locked:
        if not locked:
            return TaskOutcome(
                TaskStatus.SKIPPED,
                f"another retention run holds {settings.data_dir / LOCK_NAME}",
            )
        run = _Run(ctx, sql, cutoff, files, journal, Pacer(settings.data_retention_batch_size))
        started = time.perf_counter()
        pending = await _finish_interrupted(run)
        await _delete_jobs(run)
        if run.stopped is None:
            await _delete_uploads(run)
        seconds = time.perf_counter() - started
    indexes = await _reference_indexes(ctx)
    return _outcome(run, seconds, pending, indexes, head)


def _outcome(
    run: _Run, seconds: float, pending: int, indexes: dict[str, bool], head: list[str]
) -> TaskOutcome:
    total_rows = sum(run.rows.values())
    figures: dict[str, Any] = {
        "cutoff": run.cutoff.isoformat(),
        "retention_days": run.ctx.settings.data_retention_days,
        "rows": dict(run.rows),
        "files_removed": run.removed.files,
        "bytes_removed": run.removed.bytes,
        "files_missing": run.removed.missing,
        "files_refused": run.removed.refused + run.recovered.refused,
        "interrupted_run_files_listed": pending,
        "interrupted_run_files_removed": run.recovered.files,
        "interrupted_run_bytes_removed": run.recovered.bytes,
        "batches": run.pacer.batches,
        "seconds": round(seconds, 3),
        "rows_per_second": round(total_rows / seconds, 1) if seconds > 0 else None,
        "longest_batch_ms": round(run.pacer.longest_seconds * 1000, 1),
        "transaction_seconds": round(run.pacer.busy_seconds, 3),
        "pause_seconds": run.pause_seconds,
        "batch_size_configured": run.pacer.configured,
        "batch_size_final": run.pacer.size,
        "skipped_now_referenced": run.skipped_referenced,
        "reference_indexes": indexes,
    }
    actions = [*head]
    if pending:
        actions.append(
            f"finished an interrupted run: {pending} uploads listed in {run.journal.path}, "
            f"removed {run.recovered.files} files ({run.recovered.bytes} bytes)"
        )
    actions += [
        f"{sql}  -- executed {times} times, {rows} rows"
        for sql, (times, rows) in run.executed.items()
    ]
    if run.removed.files or run.removed.missing:
        actions.append(
            f"removed {run.removed.files} files ({run.removed.bytes} bytes) under "
            f"{run.files.root}; {run.removed.missing} were already gone"
        )
    days = f"{run.ctx.settings.data_retention_days:g}"
    pace = (
        f"{run.pacer.batches} batches in {seconds:.1f} s "
        f"({figures['rows_per_second'] or 0:,.0f} rows/s, longest batch "
        f"{figures['longest_batch_ms']:.0f} ms)"
    )
    if total_rows or run.removed.files:
        done = (
            f"deleted {_rows_text(run.rows)} and {run.removed.files} files "
            f"({human_bytes(run.removed.bytes)}) older than {days} days: {pace}"
        )
    else:
        done = f"nothing older than {days} days to delete"
    if pending:
        done += f"; finished {run.recovered.files} file deletions of an interrupted run"
    if run.rows["uploads"] and not all(indexes.values()):
        done += "; uploads delete slowly: jobs.cv_id/jobs.project_id have no index"
    if run.stopped is not None:
        return TaskOutcome(
            TaskStatus.FAILED,
            f"stopped, {run.stopped}; {done}; run again to continue",
            figures,
            actions,
        )
    return TaskOutcome(TaskStatus.OK, done, figures, actions)


async def _plan(
    ctx: OpsContext,
    sql: RetentionSql,
    cutoff: datetime,
    files: UploadFiles,
    journal: Journal,
    head: list[str],
) -> TaskOutcome:
    params: dict[str, Any] = {"cutoff": cutoff}
    async with ctx.engine.connect() as connection:

        async def scalar(statement: str, **values: Any) -> int:
            result = await connection.execute(_statement(statement), {**params, **values})
            return int(result.scalar_one())

        rows = {
            "callbacks": await scalar(sql.count_callbacks),
            "results": await scalar(sql.count_results),
            "jobs": await scalar(sql.count_jobs),
            "uploads": 0,
        }
        upload_bytes = 0
        on_disk = FileTally()
        after = ""
        while True:
            page = (
                await connection.execute(
                    _statement(sql.plan_uploads), {**params, "after": after, "limit": _PLAN_PAGE}
                )
            ).all()
            if not page:
                break
            rows["uploads"] += len(page)
            upload_bytes += sum(int(row[2]) for row in page)
            on_disk.add(await asyncio.to_thread(files.measure, [str(row[1]) for row in page]))
            after = str(page[-1][0])
    pending = await asyncio.to_thread(journal.read)
    figures: dict[str, Any] = {
        "cutoff": cutoff.isoformat(),
        "retention_days": ctx.settings.data_retention_days,
        "rows": rows,
        "files": on_disk.files,
        "file_bytes": on_disk.bytes,
        "upload_size_bytes": upload_bytes,
        "files_missing": on_disk.missing,
        "interrupted_run_files_listed": len(pending),
    }
    actions = [*head]
    if pending:
        actions.append(
            f"finish an interrupted run: check {len(pending)} uploads listed in {journal.path}"
        )
    actions += [f"{statement}  -- per batch" for statement in sql.deletes]
    actions.append(
        f"remove the {on_disk.files} stored originals ({on_disk.bytes} bytes) of the deleted "
        f"uploads under {files.root}"
    )
    days = f"{ctx.settings.data_retention_days:g}"
    if sum(rows.values()) or on_disk.files:
        summary = (
            f"would delete {_rows_text(rows)} and {on_disk.files} files "
            f"({human_bytes(on_disk.bytes)}) older than {days} days"
        )
    else:
        summary = f"nothing older than {days} days to delete"
    if pending:
        summary += f"; would first finish {len(pending)} file deletions of an interrupted run"
    return TaskOutcome(TaskStatus.PLANNED, summary, figures, actions)
