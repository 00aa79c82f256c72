"""Fast bulk seeding of uploads, jobs, results and callbacks, for tests and benchmarks.

Rows are generated in chunks and written with the cheapest bulk path of each engine: ``COPY``
through psycopg's raw connection on PostgreSQL, one ``executemany`` of pre-formatted values per
chunk on SQLite (no per-value type processing). Both write exactly what the service's own
adapters write (UTC timestamps, JSON text), so the rows read back like real ones.

Times are spread evenly between ``now - oldest`` and ``now - newest`` (not at random), so a test
can compute how many jobs fall in a day or an hour.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cv_evaluator.domain.ids import IdKind
from cv_evaluator.storage.blobs import FileBlobStore

_UPLOAD_COLUMNS = (
    "id",
    "kind",
    "filename",
    "media_type",
    "size_bytes",
    "sha256",
    "page_count",
    "text",
    "hidden_text",
    "warnings",
    "storage_key",
    "created_at",
)
_JOB_COLUMNS = (
    "id",
    "status",
    "cv_id",
    "project_id",
    "attempts",
    "max_attempts",
    "available_at",
    "lease_owner",
    "lease_expires_at",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "error_code",
    "error_message",
    "attempt_log",
    "callback_url",
)
_RESULT_COLUMNS = (
    "job_id",
    "cv_match_rate",
    "project_score",
    "evaluator",
    "evaluator_version",
    "document",
    "created_at",
)
_CALLBACK_COLUMNS = (
    "job_id",
    "url",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "last_error",
    "attempt_log",
)
_CHUNK = 10_000
_SHA = "0" * 64
_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What to seed. Status shares are fractions; what they leave over is ``queued``."""

    jobs: int
    oldest: timedelta  # age of the first job at ``now``
    newest: timedelta = timedelta(0)  # age of the last job
    completed: float = 0.8
    failed: float = 0.2
    processing: float = 0.0
    # A recruiter often evaluates one CV and project against several job descriptions.
    jobs_per_upload_pair: int = 1
    callbacks: float = 0.0  # share of ended jobs that asked for a completion callback
    files: int = 0  # uploads (spread over the range) that also get their original on disk
    text_bytes: int = 200
    document_bytes: int = 200
    queue_seconds: float = 1.0  # created → started
    processing_seconds: float = 2.0  # started → finished
    seed: int = 1

    def __post_init__(self) -> None:
        if self.completed + self.failed + self.processing > 1.0 + 1e-9:
            raise ValueError("status shares add up to more than 1")
        if self.jobs_per_upload_pair < 1:
            raise ValueError("jobs_per_upload_pair must be at least 1")


@dataclass(slots=True)
class Seeded:
    jobs: int = 0
    uploads: int = 0
    results: int = 0
    callbacks: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)  # only with keep_ids=True
    upload_ids: list[str] = field(default_factory=list)  # only with keep_ids=True
    files: dict[str, int] = field(default_factory=dict)  # storage key → bytes on disk

    @property
    def file_bytes(self) -> int:
        return sum(self.files.values())


@dataclass(slots=True)
class _Chunk:
    uploads: list[tuple[Any, ...]] = field(default_factory=list)
    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    results: list[tuple[Any, ...]] = field(default_factory=list)
    callbacks: list[tuple[Any, ...]] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)


async def seed_jobs(
    engine: AsyncEngine,
    plan: SeedPlan,
    *,
    now: datetime | None = None,
    blob_root: Path | None = None,
    keep_ids: bool = False,
) -> Seeded:
    """Insert ``plan.jobs`` jobs with their uploads, results and callbacks; one commit per chunk.

    ``blob_root`` is the upload store's root (``DATA_DIR/uploads``); needed when ``plan.files``.
    """
    if plan.files and blob_root is None:
        raise ValueError("plan.files needs blob_root")
    now = now or datetime.now(UTC)
    seeded = Seeded(by_status=dict.fromkeys(("queued", "processing", "completed", "failed"), 0))
    store = FileBlobStore(blob_root) if blob_root is not None else None
    postgres = engine.dialect.name == "postgresql"
    stamp = _pg_stamp if postgres else _sqlite_stamp
    for chunk in _chunks(plan, now, seeded, keep_ids, stamp):
        async with engine.begin() as connection:
            await _write(connection, "uploads", _UPLOAD_COLUMNS, chunk.uploads, postgres)
            await _write(connection, "jobs", _JOB_COLUMNS, chunk.jobs, postgres)
            await _write(connection, "results", _RESULT_COLUMNS, chunk.results, postgres)
            await _write(connection, "callbacks", _CALLBACK_COLUMNS, chunk.callbacks, postgres)
        if store is not None:
            for key, data in chunk.files:
                await store.put(key, data)
                seeded.files[key] = len(data)
    return seeded


def _chunks(
    plan: SeedPlan,
    now: datetime,
    seeded: Seeded,
    keep_ids: bool,
    stamp: Callable[[datetime], Any],
) -> Iterator[_Chunk]:
    rng = random.Random(plan.seed)
    step = (plan.oldest - plan.newest) / max(1, plan.jobs - 1)
    start = now - plan.oldest
    pairs = -(-plan.jobs // plan.jobs_per_upload_pair)
    file_every = max(1, (2 * pairs) // plan.files) if plan.files else 0
    text = "x" * plan.text_bytes
    document = json.dumps({"summary": "s" * plan.document_bytes})
    queue_delay = timedelta(seconds=plan.queue_seconds)
    processing = timedelta(seconds=plan.processing_seconds)
    lease = timedelta(minutes=1)
    url = "https://hooks.example/cb"
    chunk = _Chunk()
    cv_id = project_id = ""
    upload_index = files_planned = 0
    for index in range(plan.jobs):
        at = start + step * index
        created = stamp(at)
        if index % plan.jobs_per_upload_pair == 0:
            cv_id, project_id = _id_at(IdKind.CV, at, rng), _id_at(IdKind.PROJECT, at, rng)
            for upload_id, kind, name, media in (
                (cv_id, "cv", "cv.txt", "text/plain"),
                (project_id, "project", "project.md", "text/markdown"),
            ):
                chunk.uploads.append(
                    (
                        *(upload_id, kind, name, media, len(text), _SHA, None, text, "", "[]"),
                        *(upload_id, created),
                    )
                )
                if file_every and upload_index % file_every == 0 and files_planned < plan.files:
                    chunk.files.append((upload_id, text.encode()))
                    files_planned += 1
                upload_index += 1
                if keep_ids:
                    seeded.upload_ids.append(upload_id)
            seeded.uploads += 2
        status = _status(rng.random(), plan)
        job_id = _id_at(IdKind.JOB, at, rng)
        started = finished = lease_expires = None
        if status != "queued":
            started = stamp(at + queue_delay)
        if status == "processing":
            lease_expires = stamp(at + queue_delay + lease)
        if status in ("completed", "failed"):
            finished = stamp(at + queue_delay + processing)
        failed = status == "failed"
        wants_callback = finished is not None and rng.random() < plan.callbacks
        chunk.jobs.append(
            (
                *(job_id, status, cv_id, project_id, 0 if started is None else 1, 3, created),
                *("seed-worker" if lease_expires else None, lease_expires, created),
                *(finished or started or created, started, finished),
                *("EVALUATION_FAILED" if failed else None, "seeded failure" if failed else None),
                *("[]", url if wants_callback else None),
            )
        )
        seeded.by_status[status] += 1
        seeded.jobs += 1
        if keep_ids:
            seeded.job_ids.append(job_id)
        if status == "completed":
            chunk.results.append((job_id, 0.75, 7.5, "local", "1", document, finished))
            seeded.results += 1
        if wants_callback:
            chunk.callbacks.append(
                (job_id, url, "delivered", 1, finished, finished, finished, None, "[]")
            )
            seeded.callbacks += 1
        if len(chunk.jobs) >= _CHUNK:
            yield chunk
            chunk = _Chunk()
    if chunk.jobs:
        yield chunk


def _id_at(kind: IdKind, at: datetime, rng: random.Random) -> str:
    """The same ``<kind>_<ULID>`` as ``domain.ids.new_id``, several times faster.

    Ids carry their creation time, as real ones do, so id order is time order. The 48-bit time
    and 80 random bits are encoded in one go by base32 (translated to Crockford's alphabet,
    which keeps the digit values and so the order): 160 bits whose first 30 are zero.
    """
    value = (int(at.timestamp() * 1000) << 80) | rng.getrandbits(80)
    body = base64.b32encode(value.to_bytes(20, "big")).translate(_CROCKFORD)[6:]
    return f"{kind.value}_{body.decode()}"


def _status(draw: float, plan: SeedPlan) -> str:
    if draw < plan.completed:
        return "completed"
    if draw < plan.completed + plan.failed:
        return "failed"
    if draw < plan.completed + plan.failed + plan.processing:
        return "processing"
    return "queued"


async def _write(
    connection: AsyncConnection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    postgres: bool,
) -> None:
    if not rows:
        return
    if postgres:
        await _copy(connection, table, columns, rows)
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    await connection.exec_driver_sql(sql, rows)


async def _copy(
    connection: AsyncConnection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        async with cursor.copy(statement) as copy:
            for row in rows:
                await copy.write_row(row)


def _pg_stamp(value: datetime) -> datetime:
    # The columns are `timestamp without time zone` holding UTC, as UtcDateTime writes them.
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_stamp(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME text, so stored values compare as the service's own do.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
