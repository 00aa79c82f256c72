"""retention against real databases: what goes, what stays, and the API while it runs."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from cv_evaluator.bootstrap import build_app, build_runtime
from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskOutcome, TaskStatus
from cv_evaluator.ops.tasks.retention import JOURNAL_NAME, LOCK_NAME, Journal, retention, run_lock
from cv_evaluator.storage.blobs import FileBlobStore
from cv_evaluator.storage.migrate import upgrade
from tests.integration.ops.conftest import OpsFactory
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.seeding import Seeded, SeedPlan, seed_jobs


async def _migrated(ctx: OpsContext) -> OpsContext:
    await asyncio.to_thread(upgrade, ctx.settings.database_url)
    return ctx


async def _counts(ctx: OpsContext) -> dict[str, int]:
    async with ctx.engine.connect() as connection:
        return {
            table: int(
                (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one()
            )
            for table in ("uploads", "jobs", "results", "callbacks")
        }


async def _ids(ctx: OpsContext, table: str) -> set[str]:
    async with ctx.engine.connect() as connection:
        rows = (await connection.exec_driver_sql(f"SELECT id FROM {table}")).all()
    return {str(row[0]) for row in rows}


async def _run(ctx: OpsContext) -> TaskOutcome:
    return await retention(ctx, False)


def _blob_root(ctx: OpsContext) -> Path:
    return ctx.settings.data_dir / "uploads"


async def _existing_files(ctx: OpsContext, keys: set[str]) -> set[str]:
    store = FileBlobStore(_blob_root(ctx))
    return {key for key in keys if await store.exists(key)}


@dataclass
class World:
    """Old data that must go, and everything that must survive it."""

    old: Seeded
    kept: Seeded  # recent jobs of every status
    unfinished_old: Seeded  # queued/processing jobs created long ago, and their uploads
    shared: Seeded  # four old jobs of one upload pair, whose cv a recent job re-uses
    reuser: Seeded  # that recent job

    @property
    def kept_jobs(self) -> set[str]:
        return {*self.kept.job_ids, *self.unfinished_old.job_ids, *self.reuser.job_ids}

    @property
    def kept_uploads(self) -> set[str]:
        return {
            *self.kept.upload_ids,
            *self.unfinished_old.upload_ids,
            *self.reuser.upload_ids,
            self.shared.upload_ids[0],
        }

    @property
    def files(self) -> set[str]:
        groups = (self.old, self.kept, self.unfinished_old, self.shared, self.reuser)
        return {key for group in groups for key in group.files}


async def _world(ctx: OpsContext, old_jobs: int, files: int) -> World:
    root = _blob_root(ctx)

    async def seed(plan: SeedPlan) -> Seeded:
        return await seed_jobs(ctx.engine, plan, blob_root=root, keep_ids=True)

    old = await seed(
        SeedPlan(
            jobs=old_jobs,
            oldest=timedelta(days=200),
            newest=timedelta(days=100),
            callbacks=0.2,
            files=files,
        )
    )
    kept = await seed(
        SeedPlan(
            jobs=60,
            oldest=timedelta(days=80),
            completed=0.5,
            failed=0.2,
            processing=0.1,
            callbacks=0.5,
            files=10,
            seed=2,
        )
    )
    unfinished_old = await seed(
        SeedPlan(
            jobs=10,
            oldest=timedelta(days=300),
            newest=timedelta(days=150),
            completed=0.0,
            failed=0.0,
            processing=0.5,
            files=6,
            seed=3,
        )
    )
    shared = await seed(
        SeedPlan(
            jobs=4,
            oldest=timedelta(days=150),
            newest=timedelta(days=120),
            jobs_per_upload_pair=4,
            files=2,
            seed=4,
        )
    )
    reuser = await seed(SeedPlan(jobs=1, oldest=timedelta(days=7), seed=5))
    # A recruiter re-used an old CV last week: that upload is in use again and must stay, while
    # the old project uploaded with it is used by nobody once the old jobs are gone.
    async with ctx.engine.begin() as connection:
        await connection.execute(
            text("UPDATE jobs SET cv_id = :cv WHERE id = :job"),
            {"cv": shared.upload_ids[0], "job": reuser.job_ids[0]},
        )
    return World(old, kept, unfinished_old, shared, reuser)


async def _assert_only_kept_data_left(
    ctx: OpsContext,
    world: World,
    also_jobs: AbstractSet[str] = frozenset(),
    also_uploads: AbstractSet[str] = frozenset(),
) -> None:
    assert await _ids(ctx, "jobs") == world.kept_jobs | also_jobs
    assert await _ids(ctx, "uploads") == world.kept_uploads | also_uploads
    kept_files = world.files & world.kept_uploads
    assert await _existing_files(ctx, kept_files) == kept_files
    assert await _existing_files(ctx, world.files - world.kept_uploads) == set()


async def test_dry_run_counts_are_what_the_run_then_deletes(ops: OpsContext) -> None:
    ctx = await _migrated(ops)
    world = await _world(ctx, old_jobs=1500, files=120)
    before = await _counts(ctx)

    planned = await retention(ctx, True)

    assert planned.status is TaskStatus.PLANNED
    assert await _counts(ctx) == before
    assert planned.figures["rows"]["jobs"] == 1500 + 4
    assert planned.figures["files"] == 120 + 1  # the shared group's unused project file
    assert any(a.startswith("DELETE FROM results WHERE") for a in planned.actions)
    assert any(a.startswith("DELETE FROM uploads WHERE") for a in planned.actions)
    assert planned.summary.startswith("would delete 1504 jobs, ")

    outcome = await retention(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    assert outcome.figures["rows"] == planned.figures["rows"]
    assert outcome.figures["files_removed"] == planned.figures["files"]
    assert outcome.figures["bytes_removed"] == planned.figures["file_bytes"]
    after = await _counts(ctx)
    assert {t: before[t] - after[t] for t in before} == planned.figures["rows"]
    await _assert_only_kept_data_left(ctx, world)
    assert outcome.figures["rows"]["results"] == world.old.results + world.shared.results
    assert outcome.figures["rows"]["callbacks"] == world.old.callbacks + world.shared.callbacks
    again = await retention(ctx, False)
    assert again.summary == "nothing older than 90 days to delete"
    assert again.figures["rows"] == {"callbacks": 0, "results": 0, "jobs": 0, "uploads": 0}


_UPLOAD_FILES = {
    "cv": ("cv.txt", SAMPLE_CV_TEXT.encode()),
    "project": ("project.md", SAMPLE_PROJECT_TEXT.encode()),
}


@asynccontextmanager
async def _serving(ctx: OpsContext) -> AsyncIterator[httpx.AsyncClient]:
    # The API runs in-process with its own engine, as it would in its own process.
    settings = ctx.settings.model_copy(update={"maint_monitor_interval_seconds": 0})
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


# The scale on both engines: 100,000 expired jobs (about 20 s on SQLite, 50 s on
# PostgreSQL here, seeding included).
@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("backend", "old_jobs"), [("sqlite", 100_000), ("postgresql", 100_000)])
async def test_retention_clears_old_data_while_the_api_keeps_answering(
    make_ops: OpsFactory, backend: str, old_jobs: int
) -> None:
    ctx = await _migrated(
        make_ops(backend, data_retention_batch_size=5000, data_retention_pause_seconds=0.01)
    )
    world = await _world(ctx, old_jobs=old_jobs, files=300)
    job = world.kept.job_ids[0]
    waits: list[float] = []
    uploaded: set[str] = set()
    created: set[str] = set()

    async def timed(request: Awaitable[httpx.Response]) -> httpx.Response:
        started = time.perf_counter()
        response = await request
        waits.append(time.perf_counter() - started)
        assert response.status_code in (200, 202), response.text
        return response

    async with _serving(ctx) as client:
        task = asyncio.create_task(_run(ctx))
        rounds = 0
        while not task.done():
            rounds += 1
            await timed(client.get(f"/v1/result/{job}"))
            # Uploads write to the database (and the upload directory retention cleans) without
            # growing jobs, whose unindexed cv_id/project_id every deleted upload has to scan.
            upload = (await timed(client.post("/v1/upload", files=_UPLOAD_FILES))).json()
            uploaded |= {upload["cv_id"], upload["project_id"]}
            if rounds % 10 == 1:
                evaluation = await timed(client.post("/v1/evaluate", json=upload))
                created.add(evaluation.json()["id"])
    outcome = task.result()

    assert outcome.status is TaskStatus.OK, outcome.summary
    assert len(waits) >= 20, "the API was barely exercised while retention ran"
    assert max(waits) < 1.0, f"longest API wait {max(waits):.3f}s"
    figures = outcome.figures
    assert figures["rows"]["jobs"] == old_jobs + 4
    assert figures["rows"]["uploads"] == world.old.uploads + 1
    assert figures["files_removed"] == len(world.old.files) + 1
    assert figures["longest_batch_ms"] < 1000
    assert figures["batches"] > 10
    assert figures["rows_per_second"] > 0
    assert created
    await _assert_only_kept_data_left(ctx, world, also_jobs=created, also_uploads=uploaded)


async def _wait_until(ctx: OpsContext, table: str, below: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (await _counts(ctx))[table] >= below:
        if time.monotonic() > deadline:
            raise AssertionError(f"{table} never went below {below} rows")
        await asyncio.sleep(0.005)


async def _interrupt(ctx: OpsContext, table: str, below: int) -> None:
    task = asyncio.create_task(_run(ctx))
    await _wait_until(ctx, table, below)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _assert_no_row_lost_its_file(ctx: OpsContext, seeded_files: set[str]) -> None:
    uploads = await _ids(ctx, "uploads")
    with_rows = seeded_files & uploads
    assert await _existing_files(ctx, with_rows) == with_rows


async def test_an_interrupted_run_is_finished_by_the_next(
    make_ops: OpsFactory, backend: str
) -> None:
    ctx = await _migrated(
        make_ops(backend, data_retention_batch_size=250, data_retention_pause_seconds=0.02)
    )
    world = await _world(ctx, old_jobs=1500, files=600)
    start = await _counts(ctx)

    # Cancelled among the job batches: whole jobs went, with their children, or none.
    await _interrupt(ctx, "jobs", below=start["jobs"] - 300)
    middle = await _counts(ctx)
    assert len(world.kept_jobs) < middle["jobs"] <= start["jobs"] - 300
    assert middle["uploads"] == start["uploads"]
    await _assert_no_row_lost_its_file(ctx, world.files)

    # Cancelled among the upload batches, possibly between a batch's rows and its files.
    await _interrupt(ctx, "uploads", below=middle["uploads"] - 600)
    assert await _ids(ctx, "jobs") == world.kept_jobs
    await _assert_no_row_lost_its_file(ctx, world.files)

    outcome = await retention(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    await _assert_only_kept_data_left(ctx, world)
    on_disk = await asyncio.to_thread(_files_on_disk, _blob_root(ctx))
    assert on_disk == world.files & world.kept_uploads
    assert not (ctx.settings.data_dir / JOURNAL_NAME).exists()


def _files_on_disk(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


async def test_files_of_rows_deleted_before_a_crash_are_removed_next_time(
    ops: OpsContext,
) -> None:
    ctx = await _migrated(ops)
    world = await _world(ctx, old_jobs=20, files=40)
    # Simulate a run that died right after committing a batch: the journal lists the batch,
    # the rows are gone, the files are not.
    gone_uploads = world.old.upload_ids[:6]
    still_there = world.old.upload_ids[6:8]
    Journal(ctx.settings.data_dir / JOURNAL_NAME).write(
        [(u, u) for u in [*gone_uploads, *still_there]]
    )
    async with ctx.engine.begin() as connection:
        jobs = [world.old.job_ids[i] for i in range(3)]
        for job in jobs:
            await connection.execute(text("DELETE FROM results WHERE job_id = :j"), {"j": job})
            await connection.execute(text("DELETE FROM callbacks WHERE job_id = :j"), {"j": job})
            await connection.execute(text("DELETE FROM jobs WHERE id = :j"), {"j": job})
        for upload in gone_uploads:
            await connection.execute(text("DELETE FROM uploads WHERE id = :u"), {"u": upload})
    assert await _existing_files(ctx, set(gone_uploads)) == set(gone_uploads)

    planned = await retention(ctx, True)
    assert planned.figures["interrupted_run_files_listed"] == 8
    assert "would first finish 8 file deletions of an interrupted run" in planned.summary

    outcome = await retention(ctx, False)

    assert outcome.figures["interrupted_run_files_listed"] == 8
    assert outcome.figures["interrupted_run_files_removed"] == 6
    assert outcome.figures["rows"]["jobs"] == 20 - 3 + 4
    assert "finished 6 file deletions of an interrupted run" in outcome.summary
    await _assert_only_kept_data_left(ctx, world)


async def test_a_second_run_at_the_same_time_is_refused(make_ops: OpsFactory) -> None:
    ctx = await _migrated(make_ops("sqlite"))
    with run_lock(ctx.settings.data_dir / LOCK_NAME) as held:
        assert held
        outcome = await retention(ctx, False)
    assert outcome.status is TaskStatus.SKIPPED
    assert outcome.summary.startswith("another retention run holds ")
    assert (await retention(ctx, False)).status is TaskStatus.OK


async def test_the_cutoff_follows_the_clock_and_the_setting(make_ops: OpsFactory) -> None:
    ctx = await _migrated(make_ops("sqlite", data_retention_days=30))
    now = datetime.now(UTC)
    for oldest, newest in ((40, 31), (29, 20)):
        await seed_jobs(
            ctx.engine,
            SeedPlan(
                jobs=5,
                oldest=timedelta(days=oldest),
                newest=timedelta(days=newest),
                completed=1.0,
                failed=0.0,
            ),
            now=now,
        )
    clock = ManualClock(now)
    outcome = await retention(dataclasses.replace(ctx, clock=clock), False)
    assert outcome.figures["rows"]["jobs"] == 5
    assert outcome.figures["retention_days"] == 30
    assert "older than 30 days" in outcome.summary

    clock.advance(11 * 86_400)
    outcome = await retention(dataclasses.replace(ctx, clock=clock), False)
    assert outcome.figures["rows"]["jobs"] == 5
    assert (await _counts(ctx))["jobs"] == 0
