"""Maintenance benchmarks: `maint check` on a large database, and retention under API load.

    python -m bench.maintenance check [--jobs 1000000] [--backend postgresql|sqlite]
    python -m bench.maintenance retention [--jobs 500000] [--backend postgresql|sqlite]
    python -m bench.maintenance backup [--jobs 1000000] [--backend postgresql|sqlite]
    python -m bench.maintenance drill [--jobs 100000] [--backend postgresql|sqlite]
    python -m bench.maintenance window [--jobs 100000] [--backend postgresql|sqlite]

`check` seeds JOBS jobs with their uploads and results, then runs every check three times and
reports the total and the slowest checks. `retention` seeds JOBS jobs older than the retention
period (plus recent ones that must stay), starts `cv-evaluator serve` on the same database, and
measures the API's latency (a result read and a job submission, in a closed loop) while idle and
while the retention task deletes the expired rows. `backup` seeds JOBS jobs (and 1,000 stored
originals), then times a backup and its verification by restore (the measured RTO). `drill` seeds
JOBS jobs and runs `maint drill --failover` (backup, restore, a service on the copy, smoke test,
a killed service under a load of 40 jobs). `window` seeds JOBS jobs, starts `cv-evaluator serve`
and runs the weekly schedule as a window (without monitoring): how long the service is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from tests.support.postgres import PostgresServer
from tests.support.processes import ServeProcess
from tests.support.seeding import SeedPlan, seed_jobs

from bench.service import percentile
from cv_evaluator.config import LogFormat, Settings
from cv_evaluator.domain.clock import SystemClock
from cv_evaluator.ops.backup import create_backup, verify_backup
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.drill import Drill
from cv_evaluator.ops.registry import all_checks, get_task
from cv_evaluator.ops.runner import run_checks
from cv_evaluator.ops.schedules import load_schedules
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.migrate import upgrade


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).date().isoformat(),
    }


def _database(backend: str, data_dir: Path, postgres: PostgresServer | None) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{(data_dir / 'app.db').as_posix()}"
        upgrade(url)
        return url
    assert postgres is not None
    return postgres.new_database()


def _context(url: str, data_dir: Path, **overrides: Any) -> OpsContext:
    settings = Settings(
        data_dir=data_dir,
        db_url=url,
        log_format=LogFormat.TEXT,
        ai_local_processes=0,
        **overrides,
    )
    engine = make_async_engine(url, pool_size=2)
    return OpsContext(settings=settings, clock=SystemClock(), engine=engine, actor="bench")


async def _seed(ctx: OpsContext, plan: SeedPlan) -> float:
    started = time.perf_counter()
    await seed_jobs(ctx.engine, plan)
    async with ctx.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def bench_check(backend: str, jobs: int, rounds: int) -> dict[str, Any]:
    postgres = None
    if backend == "postgresql":
        postgres = PostgresServer(options=["shared_preload_libraries=pg_stat_statements"])
        postgres.start()
        postgres.build_template()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-maint-") as tmp:
            data_dir = Path(tmp) / "data"
            url = _database(backend, data_dir, postgres)
            ctx = _context(url, data_dir)
            if postgres is not None:
                async with ctx.engine.begin() as connection:
                    await connection.execute(text("CREATE EXTENSION pg_stat_statements"))
            plan = SeedPlan(jobs=jobs, oldest=timedelta(days=120), completed=0.95, failed=0.05)
            seed_seconds = await _seed(ctx, plan)
            specs = all_checks()
            totals: list[float] = []
            per_check: dict[str, list[float]] = {}
            for _ in range(rounds):
                report = await run_checks(ctx, specs)
                totals.append(report.duration_ms / 1000)
                for result in report.results:
                    per_check.setdefault(result.check, []).append(result.duration_ms)
            statuses = {r.check: r.status.value for r in report.results}
            await ctx.engine.dispose()
    finally:
        if postgres is not None:
            postgres.stop()
    database_checks = [c for c in per_check if not c.startswith("dependencies.")]
    without_dependencies = [
        sum(per_check[c][i] for c in database_checks) / 1000 for i in range(rounds)
    ]
    slowest = sorted(per_check.items(), key=lambda kv: -statistics.median(kv[1]))[:8]
    return {
        "benchmark": "maint check, every check",
        "backend": backend,
        "jobs": jobs,
        "seed_seconds": round(seed_seconds, 1),
        "rounds": rounds,
        "total_seconds_median": round(statistics.median(totals), 2),
        "total_seconds_max": round(max(totals), 2),
        "without_dependency_checks_seconds_median": round(
            statistics.median(without_dependencies), 2
        ),
        "slowest_checks_ms": {name: round(statistics.median(ms), 1) for name, ms in slowest},
        "statuses": statuses,
        "machine": _machine(),
    }


async def _probe(
    base_url: str, job_ids: list[str], upload: dict[str, str], stop: asyncio.Event
) -> dict[str, list[float]]:
    """A closed loop of result reads and job submissions; latencies per kind."""
    samples: dict[str, list[float]] = {"read": [], "submit": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        index = 0
        while not stop.is_set():
            index += 1
            started = time.perf_counter()
            if index % 4 == 0:
                response = await client.post(
                    "/v1/evaluate",
                    json={"cv_id": upload["cv_id"], "project_id": upload["project_id"]},
                )
                kind = "submit"
            else:
                response = await client.get(f"/v1/result/{job_ids[index % len(job_ids)]}")
                kind = "read"
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise AssertionError(f"{kind}: {response.status_code} {response.text[:200]}")
            samples[kind].append(elapsed)
    return samples


def _latency(samples: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, values in samples.items():
        ms = [v * 1000 for v in values]
        out[kind] = {
            "requests": len(ms),
            "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 1),
        }
    return out


async def _measure(
    base_url: str, job_ids: list[str], upload: dict[str, str], seconds: float
) -> dict[str, list[float]]:
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(base_url, job_ids, upload, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await probe


async def bench_retention(backend: str, jobs: int, idle_seconds: float) -> dict[str, Any]:
    postgres = None
    if backend == "postgresql":
        postgres = PostgresServer()
        postgres.start()
        postgres.build_template()
    serve: ServeProcess | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-retention-") as tmp:
            data_dir = Path(tmp) / "data"
            url = _database(backend, data_dir, postgres)
            ctx = _context(url, data_dir, data_retention_days=90)
            old = SeedPlan(jobs=jobs, oldest=timedelta(days=400), newest=timedelta(days=91))
            seed_seconds = await _seed(ctx, old)
            recent = await seed_jobs(
                ctx.engine,
                SeedPlan(jobs=2000, oldest=timedelta(days=30), completed=1.0, failed=0.0),
                keep_ids=True,
            )
            env = {
                **os.environ,
                "DATA_DIR": str(data_dir),
                "DB_URL": url,
                "APP_WORKERS": "0",
                "APP_RESULT_CACHE_SIZE": "0",
                "MAINT_MONITOR_INTERVAL_SECONDS": "0",
                "LOG_LEVEL": "WARNING",
            }
            serve = ServeProcess(env, Path(tmp) / "serve.log", ["--no-migrate"])
            serve.wait_healthy(60)
            async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as client:
                response = await client.post(
                    "/v1/upload",
                    files={
                        "cv": ("cv.txt", b"Python engineer, 6 years."),
                        "project": ("p.md", b"A project report."),
                    },
                )
                upload = response.json()
            idle = await _measure(serve.base_url, recent.job_ids, upload, idle_seconds)
            stop = asyncio.Event()
            probe = asyncio.create_task(_probe(serve.base_url, recent.job_ids, upload, stop))
            started = time.perf_counter()
            outcome = await get_task("retention").run(ctx, False)
            elapsed = time.perf_counter() - started
            stop.set()
            during = await probe
            await ctx.engine.dispose()
    finally:
        if serve is not None:
            serve.stop()
        if postgres is not None:
            postgres.stop()
    idle_latency, during_latency = _latency(idle), _latency(during)
    return {
        "benchmark": "retention of expired jobs under API load",
        "backend": backend,
        "expired_jobs": jobs,
        "seed_seconds": round(seed_seconds, 1),
        "task_status": outcome.status.value,
        "task_summary": outcome.summary,
        "task_seconds": round(elapsed, 1),
        "jobs_deleted_per_second": round(jobs / elapsed),
        "figures": dict(outcome.figures),
        "api_idle": idle_latency,
        "api_during_retention": during_latency,
        "p99_ratio": {
            kind: round(during_latency[kind]["p99_ms"] / idle_latency[kind]["p99_ms"], 2)
            for kind in idle_latency
        },
        "machine": _machine(),
    }


async def _seeded(
    url: str, data_dir: Path, jobs: int, **overrides: Any
) -> tuple[OpsContext, float]:
    """JOBS jobs (and 1,000 stored originals) on ``url``; the context and the seeding time."""
    ctx = _context(url, data_dir, **overrides)
    plan = SeedPlan(jobs=jobs, oldest=timedelta(days=120), files=1000)
    started = time.perf_counter()
    await seed_jobs(ctx.engine, plan, blob_root=data_dir / "uploads")
    return ctx, time.perf_counter() - started


@contextmanager
def _postgres(backend: str) -> Iterator[PostgresServer | None]:
    """A throwaway PostgreSQL server for the run (none for SQLite)."""
    if backend != "postgresql":
        yield None
        return
    postgres = PostgresServer()
    postgres.start()
    try:
        postgres.build_template()
        yield postgres
    finally:
        postgres.stop()


async def bench_backup(backend: str, jobs: int) -> dict[str, Any]:
    with _postgres(backend) as postgres, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data_dir = Path(tmp) / "data"
        ctx, seed_seconds = await _seeded(_database(backend, data_dir, postgres), data_dir, jobs)
        started = time.perf_counter()
        backup = await create_backup(ctx)
        create_seconds = time.perf_counter() - started
        started = time.perf_counter()
        verification = await verify_backup(ctx, backup.id)
        verify_seconds = time.perf_counter() - started
        size = sum(f.stat().st_size for f in backup.path.rglob("*") if f.is_file())
        await ctx.engine.dispose()
    return {
        "benchmark": "backup create and verify by restore",
        "backend": backend,
        "jobs": jobs,
        "seed_seconds": round(seed_seconds, 1),
        "create_seconds": round(create_seconds, 1),
        "verify_seconds": round(verify_seconds, 1),
        "verified": verification.ok,
        "problems": verification.problems,
        "rto_seconds": verification.rto_seconds,
        "backup_bytes": size,
        "machine": _machine(),
    }


async def bench_drill(backend: str, jobs: int) -> dict[str, Any]:
    with _postgres(backend) as postgres, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data_dir = Path(tmp) / "data"
        ctx, seed_seconds = await _seeded(_database(backend, data_dir, postgres), data_dir, jobs)
        started = time.perf_counter()
        run = await Drill(
            ctx,
            schedules=load_schedules(),
            failover=True,
            failover_jobs=40,
            probe_timeout_seconds=30,
            smoke_timeout_seconds=120,
        ).run()
        total = time.perf_counter() - started
        await ctx.engine.dispose()
    drill = run.checks["drill"]
    return {
        "benchmark": "maint drill --failover",
        "backend": backend,
        "jobs": jobs,
        "seed_seconds": round(seed_seconds, 1),
        "status": run.status,
        "total_seconds": round(total, 1),
        "rto_seconds": drill.get("rto_seconds"),
        "restore_seconds": drill.get("restore_seconds"),
        "files_seconds": drill.get("files_seconds"),
        "service_seconds": drill.get("service_seconds"),
        "failover": drill.get("failover"),
        "steps": {step["step"]: step["seconds"] for step in drill["steps"]},
        "machine": _machine(),
    }


async def bench_window(backend: str, jobs: int) -> dict[str, Any]:
    from cv_evaluator.bootstrap import build_window

    with _postgres(backend) as postgres, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data_dir = Path(tmp) / "data"
        url = _database(backend, data_dir, postgres)
        env = {"DATA_DIR": str(data_dir), "DB_URL": url, "LOG_FORMAT": "json"}
        serve = ServeProcess(env, Path(tmp) / "serve.log", ["--no-migrate"])
        try:
            serve.wait_healthy(60)
            ctx, seed_seconds = await _seeded(url, data_dir, jobs, maint_base_url=serve.base_url)
            weekly = load_schedules()["weekly"]
            started = time.perf_counter()
            run = await build_window(ctx, weekly, monitor_minutes=0, dry_run=False).run()
            total = time.perf_counter() - started
            await ctx.engine.dispose()
        finally:
            serve.stop()
    steps = {step["step"]: step for step in run.checks["window"]["steps"]}
    # Closed to new work: from the mode going on to it going off.
    closed = sum(steps[name]["seconds"] for name in ("maintenance mode", "drain", "verify"))
    closed += sum(task["duration_ms"] for task in run.tasks) / 1000
    return {
        "benchmark": "maint window run weekly (no monitoring)",
        "backend": backend,
        "jobs": jobs,
        "seed_seconds": round(seed_seconds, 1),
        "status": run.status,
        "total_seconds": round(total, 1),
        "closed_seconds": round(closed, 1),
        "steps": {name: step["seconds"] for name, step in steps.items()},
        "tasks": {task["task"]: round(task["duration_ms"] / 1000, 2) for task in run.tasks},
        "machine": _machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("scenario", choices=["check", "retention", "backup", "drill", "window"])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    if args.scenario == "check":
        result = asyncio.run(bench_check(args.backend, args.jobs or 1_000_000, args.rounds))
    elif args.scenario == "retention":
        result = asyncio.run(bench_retention(args.backend, args.jobs or 500_000, args.idle_seconds))
    elif args.scenario == "drill":
        result = asyncio.run(bench_drill(args.backend, args.jobs or 100_000))
    elif args.scenario == "window":
        result = asyncio.run(bench_window(args.backend, args.jobs or 100_000))
    else:
        result = asyncio.run(bench_backup(args.backend, args.jobs or 1_000_000))
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
