"""Sustained end-to-end throughput of evaluation jobs, by backend and number of worker processes.

    .venv/bin/python -m bench.throughput [--jobs 600] [--workers 1 2 4]
                                         [--backends sqlite postgresql postgresql+kafka]

For each combination: a fresh database, an API-only ``cv-evaluator serve`` and N ``cv-evaluator
worker --concurrency 1`` processes scoring in their own thread (``AI_LOCAL_PROCESSES=0``), so N is
the number of processes scoring at once. The jobs are submitted through the API first, then the
workers start; throughput is jobs divided by the time from the first claim to the last completion
(server-side timestamps), so neither submission nor worker start-up is counted. Alongside it: the
time each job took from claim to completion under that load. The last line printed is the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.kafka_server import KafkaServer
from tests.support.postgres import PostgresServer
from tests.support.processes import CLI, CliProcess, ServeProcess, wait_until

from bench.service import summary_ms
from cv_evaluator.storage.engine import make_sync_engine


def _database(backend: str, data_dir: Path, postgres: PostgresServer | None) -> str:
    if backend.startswith("sqlite"):
        return f"sqlite:///{data_dir / 'app.db'}"
    assert postgres is not None
    return postgres.new_database()


def _job_rows(url: str) -> list[tuple[Any, ...]]:
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    text("SELECT started_at, finished_at, status FROM jobs")
                )
            ]
    finally:
        engine.dispose()


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _queue_env(backend: str, kafka: KafkaServer | None) -> dict[str, str]:
    if not backend.endswith("+kafka"):
        return {}
    assert kafka is not None
    name = uuid.uuid4().hex[:8]
    return {
        "QUEUE_BACKEND": "kafka",
        "KAFKA_BROKERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC": f"jobs-{name}",
        "KAFKA_DEAD_LETTER_TOPIC": f"jobs-{name}.dlq",
        "KAFKA_CONSUMER_GROUP": f"workers-{name}",
    }


def run_one(
    backend: str,
    workers: int,
    jobs: int,
    postgres: PostgresServer | None,
    kafka: KafkaServer | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        url = _database(backend, data_dir, postgres)
        env = {
            "DATA_DIR": str(data_dir),
            "DB_URL": url,
            "LOG_LEVEL": "WARNING",
            "AI_LOCAL_PROCESSES": "0",
            "WORKER_POLL_INTERVAL_SECONDS": "0.2",
            **_queue_env(backend, kafka),
        }
        subprocess.run([CLI, "migrate"], env={**os.environ, **env}, check=True, capture_output=True)
        api = ServeProcess({**env, "APP_WORKERS": "0"}, Path(tmp) / "api.log", ["--no-migrate"])
        started: list[CliProcess] = [api]
        try:
            api.wait_healthy()
            with httpx.Client(base_url=api.base_url, timeout=60) as client:
                files = {
                    "cv": ("cv.txt", SAMPLE_CV_TEXT.encode()),
                    "project": ("p.md", SAMPLE_PROJECT_TEXT.encode()),
                }
                ids = client.post("/v1/upload", files=files).json()
                for _ in range(jobs):
                    client.post("/v1/evaluate", json=ids).raise_for_status()
            for index in range(workers):
                started.append(
                    CliProcess(
                        ["worker", "--concurrency", "1", "--no-migrate"],
                        env,
                        Path(tmp) / f"worker-{index}.log",
                    )
                )
            with httpx.Client(base_url=api.base_url, timeout=60) as client:

                def done() -> bool:
                    queue = client.get("/readyz").json()["checks"]["queue"]
                    return bool(queue["queued"] == 0 and queue["processing"] == 0)

                wait_until(done, 1800, "all jobs to finish", interval=0.5)
        finally:
            for process in started:
                process.stop()
        rows = _job_rows(url)
    claimed = [_as_datetime(r[0]) for r in rows if r[0] is not None]
    finished = [_as_datetime(r[1]) for r in rows if r[1] is not None]
    elapsed = (max(finished) - min(claimed)).total_seconds()
    latencies = [
        (_as_datetime(r[1]) - _as_datetime(r[0])).total_seconds() for r in rows if r[1] is not None
    ]
    return {
        "backend": backend.split("+")[0],
        "queue": "kafka" if backend.endswith("+kafka") else "db",
        "worker_processes": workers,
        "jobs": len(rows),
        "completed": sum(1 for r in rows if r[2] == "completed"),
        "jobs_per_minute": round(len(finished) / elapsed * 60, 1),
        "claim_to_completed": summary_ms(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql", "postgresql+kafka"]
    )
    args = parser.parse_args()
    postgres: PostgresServer | None = None
    kafka: KafkaServer | None = None
    if any(b.startswith("postgresql") for b in args.backends):
        postgres = PostgresServer()
        postgres.start()
        postgres.build_template()
    if any(b.endswith("+kafka") for b in args.backends):
        kafka = KafkaServer()
        kafka.start()
    figures = []
    try:
        for backend in args.backends:
            for workers in args.workers:
                row = run_one(backend, workers, args.jobs, postgres, kafka)
                figures.append(row)
                lat = row["claim_to_completed"]
                print(
                    f"{row['backend']:<10} {row['queue']:<5} queue  {workers} worker(s): "
                    f"{row['jobs_per_minute']:>7} jobs/min  "
                    f"({row['completed']}/{row['jobs']} completed)  "
                    f"claim→completed p50 {lat['p50_ms']} ms  p99 {lat['p99_ms']} ms",
                    flush=True,
                )
    finally:
        if postgres is not None:
            postgres.stop()
        if kafka is not None:
            kafka.stop()
    print(json.dumps({"date": datetime.now().date().isoformat(), "figures": figures}))


if __name__ == "__main__":
    main()
