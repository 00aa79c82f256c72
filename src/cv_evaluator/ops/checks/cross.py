"""Cross-checks: does what one store says agree with another?

The jobs table against the queue's consumers (is anyone working on the jobs marked processing?),
the upload rows against the files of the upload store, the results against their jobs, and the
end-to-end wait of the oldest unfinished job as a user sees it. Read-only, like every check.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from sqlalchemy import ColumnElement, func, or_, select

from cv_evaluator.domain.jobs import JobStatus
from cv_evaluator.ops.checks.kafka import (
    BrokersUnreachable,
    GroupWindow,
    broker_error,
    sample_group,
    window_thresholds,
)
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.grading import above
from cv_evaluator.ops.model import Outcome, Status, Threshold
from cv_evaluator.ops.registry import check
from cv_evaluator.storage.tables import jobs, results, uploads

_EXAMPLES = 10
_OLDEST = 5
# The most upload rows checked and store files listed per run: enough for any store this
# service fills in a day, and a bound on how long the check stays on a large one.
SCAN_LIMIT = 10_000
_KEY_BATCH = 500
# The upload service writes a file before it commits the row (and a crash mid-write leaves a
# temporary file): a younger file without a row may still be in flight, so it is no orphan yet.
FILE_GRACE = timedelta(minutes=10)
_TEMP_PREFIX = ".tmp-"


# --- cross.processing_vs_consumer


def _expired(now: datetime) -> ColumnElement[bool]:
    return or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < now)


@dataclass(frozen=True, slots=True)
class _Processing:
    total: int
    expired: int
    live_owners: int
    oldest_expired: list[dict[str, Any]]
    oldest_live: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "processing": self.total,
            "expired_leases": self.expired,
            "live_leases": self.total - self.expired,
            "live_lease_owners": self.live_owners,
            "oldest_expired": self.oldest_expired,
            "oldest_live": self.oldest_live,
        }


def _job_row(row: Any, now: datetime) -> dict[str, Any]:
    started = row.started_at or row.updated_at
    expires = row.lease_expires_at
    return {
        "id": row.id,
        "lease_owner": row.lease_owner,
        "started_at": started.isoformat() if started else None,
        "lease_expires_at": expires.isoformat() if expires else None,
        "processing_seconds": round((now - started).total_seconds(), 1) if started else None,
    }


async def _processing(ctx: OpsContext, now: datetime) -> _Processing:
    processing = jobs.c.status == JobStatus.PROCESSING.value
    columns = (
        jobs.c.id,
        jobs.c.lease_owner,
        jobs.c.lease_expires_at,
        jobs.c.started_at,
        jobs.c.updated_at,
    )
    async with ctx.engine.connect() as connection:
        total = (
            await connection.execute(select(func.count()).select_from(jobs).where(processing))
        ).scalar_one()
        expired = (
            await connection.execute(
                select(func.count()).select_from(jobs).where(processing, _expired(now))
            )
        ).scalar_one()
        owners = (
            await connection.execute(
                select(func.count(jobs.c.lease_owner.distinct())).where(processing, ~_expired(now))
            )
        ).scalar_one()
        oldest_expired = (
            await connection.execute(
                select(*columns)
                .where(processing, _expired(now))
                .order_by(jobs.c.lease_expires_at, jobs.c.id)
                .limit(_OLDEST)
            )
        ).all()
        oldest_live = (
            await connection.execute(
                select(*columns)
                .where(processing, ~_expired(now))
                .order_by(jobs.c.started_at, jobs.c.id)
                .limit(_OLDEST)
            )
        ).all()
    return _Processing(
        total=int(total),
        expired=int(expired),
        live_owners=int(owners),
        oldest_expired=[_job_row(r, now) for r in oldest_expired],
        oldest_live=[_job_row(r, now) for r in oldest_live],
    )


def _expired_text(figures: _Processing) -> str:
    oldest = figures.oldest_expired[0]
    return (
        f"{figures.expired} of {figures.total} processing job(s) hold an expired lease "
        f"(oldest {oldest['id']}, owner {oldest['lease_owner']}, lease ended "
        f"{oldest['lease_expires_at']})"
    )


def _db_queue_verdict(figures: _Processing) -> tuple[Status, str]:
    if figures.expired:
        return (
            Status.WARN,
            f"{_expired_text(figures)}: their worker is gone; the next claim takes them back",
        )
    return (
        Status.OK,
        f"{figures.total} processing job(s), every lease live, held by "
        f"{figures.live_owners} worker(s)",
    )


def _kafka_verdict(
    ctx: OpsContext, figures: _Processing, window: GroupWindow, details: dict[str, Any]
) -> tuple[Status, str]:
    group = window.group
    details["consumer_group"] = {
        "group": group,
        "state": window.latest.state,
        "members": len(window.latest.members),
        "member_counts": [len(s.members) for s in window.states],
        "sampled_at_seconds": window.sampled_at,
        "committed_moved": window.committed_moved(),
    }
    if window.members == 0:
        return (
            Status.CRITICAL,
            f"{figures.total} job(s) processing but consumer group {group} has no member: no "
            "worker is consuming, nobody works on them — start the workers",
        )
    if not figures.expired:
        return (
            Status.OK,
            f"{figures.total} processing job(s), every lease live ({figures.live_owners} "
            f"worker(s)); consumer group {group} has {window.members} member(s)",
        )
    span = window.sampled_at[-1] if window.sampled_at else 0.0
    if not window.committed_moved():
        return (
            Status.CRITICAL,
            f"{_expired_text(figures)} and consumer group {group} committed nothing in "
            f"{span:g} s although it has {window.members} member(s): nobody works on them — "
            "the workers are stuck, read their logs and restart them",
        )
    republish = ctx.settings.kafka_republish_after_seconds
    return (
        Status.WARN,
        f"{_expired_text(figures)}: their worker is gone; the consumers still commit, and "
        f"the outbox sweeper publishes the jobs again (KAFKA_REPUBLISH_AFTER_SECONDS "
        f"{republish:g} s)",
    )


@check(
    "cross.processing_vs_consumer",
    group="cross",
    description="Jobs marked processing against their leases and the queue's live consumers.",
)
async def processing_vs_consumer(ctx: OpsContext) -> Outcome:
    thresholds: list[Threshold] = [
        ctx.threshold("job_lease_seconds", "a live worker renews its lease within", "s")
    ]
    if ctx.uses_kafka:
        thresholds += window_thresholds(ctx)
    now = ctx.clock.now()
    figures = await _processing(ctx, now)
    details: dict[str, Any] = {"queue": "kafka" if ctx.uses_kafka else "db", **figures.as_dict()}
    if figures.total == 0:
        return Outcome(Status.OK, "no job is processing", details, thresholds)
    if not ctx.uses_kafka:
        status, summary = _db_queue_verdict(figures)
        return Outcome(status, summary, details, thresholds)
    settings = ctx.settings
    # The group's members alone decide unless some leases expired: only then does it matter
    # whether the consumers still commit, which takes a window of samples.
    count = settings.maint_kafka_lag_samples if figures.expired else 1
    try:
        window = await sample_group(
            ctx, count=count, interval=settings.maint_kafka_lag_interval_seconds
        )
    except BrokersUnreachable as exc:
        return Outcome(Status.UNKNOWN, f"brokers unreachable: {exc}", details, thresholds)
    except KafkaError as exc:
        error = broker_error(exc, thresholds)
        return Outcome(error.status, error.summary, details, thresholds)
    if not window.topic_exists:
        return Outcome(
            Status.UNKNOWN,
            f"{figures.total} job(s) processing, but topic {window.topic} does not exist, so "
            "the consumers cannot be judged (see kafka.topic)",
            details,
            thresholds,
        )
    status, summary = _kafka_verdict(ctx, figures, window, details)
    return Outcome(status, summary, details, thresholds)


# --- cross.orphans


@dataclass
class _StoreListing:
    exists: bool
    # storage key -> (path under the store, modification time)
    files: dict[str, tuple[str, float]] = field(default_factory=dict)
    temporary: list[tuple[str, float]] = field(default_factory=list)
    truncated: bool = False

    @property
    def listed(self) -> int:
        return len(self.files) + len(self.temporary)


def _list_store(root: Path, limit: int) -> _StoreListing:
    """Files of the upload store (``root/<last two chars of key>/<key>``), at most ``limit``."""
    if not root.is_dir():
        return _StoreListing(exists=False)
    listing = _StoreListing(exists=True)
    for shard in sorted(os.scandir(root), key=lambda e: e.name):
        if not shard.is_dir(follow_symlinks=False):
            continue
        for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False):
                continue
            if listing.listed >= limit:
                listing.truncated = True
                return listing
            try:
                modified = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:  # removed while we looked: not ours to judge
                continue
            relative = f"{shard.name}/{entry.name}"
            if entry.name.startswith(_TEMP_PREFIX):
                listing.temporary.append((relative, modified))
            else:
                listing.files[entry.name] = (relative, modified)
    return listing


def _blob_path(root: Path, key: str) -> Path:
    # The layout of storage.blobs.FileBlobStore: one folder per last two characters of the key.
    return root / key[-2:] / key


def _missing_files(root: Path, rows: Sequence[tuple[str, str]]) -> list[str]:
    return [upload_id for upload_id, key in rows if not _blob_path(root, key).is_file()]


async def _referenced(ctx: OpsContext, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    async with ctx.engine.connect() as connection:
        for start in range(0, len(keys), _KEY_BATCH):
            batch = list(keys[start : start + _KEY_BATCH])
            rows = await connection.execute(
                select(uploads.c.storage_key).where(uploads.c.storage_key.in_(batch))
            )
            found.update(str(key) for key in rows.scalars())
    return found


@check(
    "cross.orphans",
    group="cross",
    description="Uploads whose file is missing, stored files no upload references, and results "
    "whose job is not completed.",
)
async def orphans(ctx: OpsContext) -> Outcome:
    root = ctx.settings.data_dir / "uploads"
    cutoff = (ctx.clock.now() - FILE_GRACE).timestamp()
    # A result belongs to a completed job; anything else (a failed or re-queued job, or no job
    # at all after a partial restore) is a result nobody will serve as it stands.
    joined = results.outerjoin(jobs, jobs.c.id == results.c.job_id)
    not_completed = or_(jobs.c.id.is_(None), jobs.c.status != JobStatus.COMPLETED.value)
    async with ctx.engine.connect() as connection:
        upload_count = int(
            (await connection.execute(select(func.count()).select_from(uploads))).scalar_one()
        )
        upload_rows = [
            (str(r.id), str(r.storage_key))
            for r in await connection.execute(
                select(uploads.c.id, uploads.c.storage_key)
                .order_by(uploads.c.created_at.desc(), uploads.c.id)
                .limit(SCAN_LIMIT)
            )
        ]
        result_count = int(
            (await connection.execute(select(func.count()).select_from(results))).scalar_one()
        )
        orphan_result_count = int(
            (
                await connection.execute(
                    select(func.count()).select_from(joined).where(not_completed)
                )
            ).scalar_one()
        )
        orphan_results = [
            {"job_id": str(r.job_id), "job_status": r.status}
            for r in await connection.execute(
                select(results.c.job_id, jobs.c.status)
                .select_from(joined)
                .where(not_completed)
                .order_by(results.c.job_id)
                .limit(_EXAMPLES)
            )
        ]
    listing = await asyncio.to_thread(_list_store, root, SCAN_LIMIT)
    missing = await asyncio.to_thread(_missing_files, root, upload_rows) if listing.exists else []
    referenced = await _referenced(ctx, sorted(listing.files))
    unclaimed = [
        entry for key, entry in listing.files.items() if key not in referenced
    ] + listing.temporary
    unreferenced = sorted(path for path, modified in unclaimed if modified <= cutoff)
    in_flight = sum(1 for _path, modified in unclaimed if modified > cutoff)

    scan = {
        "store": str(root),
        "store_exists": listing.exists,
        "scan_limit": SCAN_LIMIT,
        "uploads": upload_count,
        "uploads_checked": len(upload_rows),
        "files_listed": listing.listed,
        "files_in_flight": in_flight,
        "files_truncated": listing.truncated,
        "results": result_count,
        "file_grace_seconds": FILE_GRACE.total_seconds(),
    }
    details: dict[str, Any] = {
        **scan,
        "uploads_missing_file": len(missing),
        "uploads_missing_file_examples": missing[:_EXAMPLES],
        "files_unreferenced": len(unreferenced),
        "files_unreferenced_examples": unreferenced[:_EXAMPLES],
        "results_orphaned": orphan_result_count,
        "results_orphaned_examples": orphan_results,
    }
    notes = []
    if upload_count > len(upload_rows):
        notes.append(f"only the newest {len(upload_rows)} of {upload_count} uploads checked")
    if listing.truncated:
        notes.append(f"file listing stopped after {SCAN_LIMIT} files")
    if in_flight:
        notes.append(
            f"{in_flight} unreferenced file(s) younger than {FILE_GRACE.total_seconds():g} s "
            "left alone, their upload may still be in progress"
        )
    note = f" ({'; '.join(notes)})" if notes else ""

    if not listing.exists and upload_count:
        return Outcome(
            Status.WARN,
            f"the upload store {root} does not exist here but {upload_count} upload row(s) "
            "reference files in it: DATA_DIR is wrong on this machine, or the store was lost",
            details,
        )
    problems = []
    if missing:
        problems.append(f"{len(missing)} upload(s) whose file is missing (e.g. {missing[0]})")
    if unreferenced:
        problems.append(
            f"{len(unreferenced)} stored file(s) no upload references (e.g. {unreferenced[0]})"
        )
    if orphan_result_count:
        first = orphan_results[0]
        problems.append(
            f"{orphan_result_count} result(s) whose job is not completed (e.g. job "
            f"{first['job_id']}: {first['job_status'] or 'no such job'})"
        )
    if problems:
        return Outcome(Status.WARN, "orphans: " + "; ".join(problems) + note, details)
    return Outcome(
        Status.OK,
        f"no orphans among {len(upload_rows)} upload(s), {len(listing.files)} stored file(s) "
        f"and {result_count} result(s){note}",
        details,
    )


# --- cross.unfinished_lag


@check(
    "cross.unfinished_lag",
    group="cross",
    description="Age of the oldest unfinished (queued or processing) job: the wait users see.",
)
async def unfinished_lag(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_queue_oldest_warn_seconds", "warn above", "s")
    critical = ctx.threshold("maint_queue_oldest_critical_seconds", "critical above", "s")
    thresholds = [warn, critical]
    unfinished = jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.PROCESSING.value])
    async with ctx.engine.connect() as connection:
        count = int(
            (
                await connection.execute(select(func.count()).select_from(jobs).where(unfinished))
            ).scalar_one()
        )
        oldest = (
            await connection.execute(
                select(jobs.c.id, jobs.c.status, jobs.c.created_at, jobs.c.attempts)
                .where(unfinished)
                .order_by(jobs.c.created_at, jobs.c.id)
                .limit(1)
            )
        ).first()
    if oldest is None:
        return Outcome(
            Status.OK,
            "no unfinished job",
            {"unfinished": 0, "oldest_job_id": None, "age_seconds": 0.0},
            thresholds,
        )
    age = max(0.0, (ctx.clock.now() - oldest.created_at).total_seconds())
    details = {
        "unfinished": count,
        "oldest_job_id": oldest.id,
        "oldest_status": oldest.status,
        "oldest_attempts": int(oldest.attempts),
        "oldest_created_at": oldest.created_at.isoformat(),
        "age_seconds": round(age, 1),
    }
    status = above(age, warn, critical)
    summary = (
        f"oldest unfinished job {oldest.id} ({oldest.status}, {oldest.attempts} attempt(s)) "
        f"was accepted {age:.0f} s ago; {count} job(s) unfinished"
    )
    if status is not Status.OK:
        summary += (
            " — users wait that long for results: check the workers (queue.*, "
            "kafka.consumer_lag) and the evaluator"
        )
    return Outcome(status, summary, details, thresholds)
