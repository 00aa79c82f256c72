"""The scale-out fault scenarios, at full size, with real processes, on PostgreSQL + Kafka.

    .venv/bin/python -m bench.faults

1. three worker processes, 500 jobs: each completes exactly once, the group's lag returns to 0;
2. a worker SIGKILLed every 5 s (and restarted) while 200 jobs flow: nothing lost or duplicated;
3. the broker stopped while 50 evaluate requests arrive: all accepted, all done once it is back;
4. PostgreSQL stopped mid-run: the API answers 503 while it is down, then everything completes.

Each scenario prints one line; the last line is the JSON of all of them. The acceptance suite
runs smaller versions of the same scenarios on every build.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.kafka_server import KafkaServer
from tests.support.postgres import PostgresServer
from tests.support.processes import CLI, CliProcess, ServeProcess, wait_until

from cv_evaluator.storage.engine import make_sync_engine


class Stack:
    """One API process and its workers on a fresh database and fresh topics."""

    def __init__(self, tmp: Path, postgres: PostgresServer, kafka: KafkaServer) -> None:
        name = uuid.uuid4().hex[:8]
        self.tmp = tmp
        self.url = postgres.new_database()
        self.env = {
            "DATA_DIR": str(tmp / "data"),
            "DB_URL": self.url,
            "LOG_LEVEL": "WARNING",
            "AI_LOCAL_PROCESSES": "0",
            "QUEUE_BACKEND": "kafka",
            "KAFKA_BROKERS": kafka.bootstrap_servers,
            "KAFKA_TOPIC": f"jobs-{name}",
            "KAFKA_DEAD_LETTER_TOPIC": f"jobs-{name}.dlq",
            "KAFKA_CONSUMER_GROUP": f"workers-{name}",
            "KAFKA_SWEEP_INTERVAL_SECONDS": "1",
            "JOB_LEASE_SECONDS": "5",
            "DB_POOL_TIMEOUT_SECONDS": "2",
        }
        self.processes: list[CliProcess] = []
        subprocess.run([CLI, "migrate"], env={**os.environ, **self.env}, check=True)
        self.api = ServeProcess({**self.env, "APP_WORKERS": "0"}, tmp / "api.log", ["--no-migrate"])
        self.processes.append(self.api)
        self.api.wait_healthy()
        files = {
            "cv": ("cv.txt", SAMPLE_CV_TEXT.encode()),
            "project": ("p.md", SAMPLE_PROJECT_TEXT.encode()),
        }
        self.ids = httpx.post(f"{self.api.base_url}/v1/upload", files=files, timeout=30).json()

    def worker(self) -> CliProcess:
        log = self.tmp / f"worker-{len(self.processes)}.log"
        process = CliProcess(["worker", "--concurrency", "2", "--no-migrate"], self.env, log)
        self.processes.append(process)
        return process

    def evaluate(self) -> httpx.Response:
        return httpx.post(f"{self.api.base_url}/v1/evaluate", json=self.ids, timeout=30)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        engine = make_sync_engine(self.url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()

    def wait_all_terminal(self, jobs: int, timeout: float) -> None:
        def done() -> bool:
            finished = self.rows("SELECT COUNT(*) FROM jobs WHERE status IN ('completed','failed')")
            return bool(finished[0][0] >= jobs)

        wait_until(done, timeout, f"{jobs} jobs to finish", interval=0.5)

    def tally(self) -> dict[str, Any]:
        ((results, distinct),) = self.rows("SELECT COUNT(*), COUNT(DISTINCT job_id) FROM results")
        statuses = dict(self.rows("SELECT status, COUNT(*) FROM jobs GROUP BY status"))
        return {"jobs_by_status": statuses, "result_rows": results, "distinct_results": distinct}

    def lag(self) -> int:
        return asyncio.run(_group_lag(self.env))

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


async def _group_lag(env: dict[str, str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=env["KAFKA_BROKERS"])
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(env["KAFKA_CONSUMER_GROUP"])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=env["KAFKA_BROKERS"])
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(offsets))
    finally:
        await consumer.stop()
    return int(sum(ends[tp] - meta.offset for tp, meta in offsets.items()))


@contextmanager
def stack(postgres: PostgresServer, kafka: KafkaServer) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory() as tmp:
        running = Stack(Path(tmp), postgres, kafka)
        try:
            yield running
        finally:
            running.stop()


def three_workers_500_jobs(postgres: PostgresServer, kafka: KafkaServer) -> dict[str, Any]:
    with stack(postgres, kafka) as s:
        for _ in range(3):
            s.worker()
        started = time.monotonic()
        accepted = sum(s.evaluate().status_code == 200 for _ in range(500))
        s.wait_all_terminal(500, 600)
        elapsed = time.monotonic() - started
        wait_until(lambda: s.lag() == 0, 60, "consumer lag to return to 0", interval=0.5)
        return {
            "accepted": accepted,
            "seconds": round(elapsed, 1),
            "final_lag": s.lag(),
            **s.tally(),
        }


def repeated_sigkill_200_jobs(postgres: PostgresServer, kafka: KafkaServer) -> dict[str, Any]:
    with stack(postgres, kafka) as s:
        # All jobs wait first, so the kills land while they flow, not after they are done.
        accepted = sum(s.evaluate().status_code == 200 for _ in range(200))
        workers = [s.worker() for _ in range(2)]
        kills = 0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            finished = s.rows("SELECT COUNT(*) FROM jobs WHERE status IN ('completed','failed')")
            if finished[0][0] >= 200:
                break
            time.sleep(5)
            victim = workers.pop(0)
            victim.signal(signal.SIGKILL)
            victim.wait(10)
            kills += 1
            workers.append(s.worker())
        s.wait_all_terminal(200, 120)
        return {"accepted": accepted, "workers_killed": kills, **s.tally()}


def broker_down_50_requests(postgres: PostgresServer, kafka: KafkaServer) -> dict[str, Any]:
    with stack(postgres, kafka) as s:
        s.worker()
        kafka.pause()
        try:
            statuses = [s.evaluate().status_code for _ in range(50)]
        finally:
            kafka.resume()
        resumed = time.monotonic()
        s.wait_all_terminal(50, 300)
        return {
            "accepted_while_down": statuses.count(200),
            "seconds_to_finish_after_broker_returned": round(time.monotonic() - resumed, 1),
            **s.tally(),
        }


def database_restart(postgres: PostgresServer, kafka: KafkaServer) -> dict[str, Any]:
    with stack(postgres, kafka) as s:
        s.worker()
        before = sum(s.evaluate().status_code == 200 for _ in range(50))
        postgres.pause()
        try:
            started = time.monotonic()
            during = [s.evaluate().status_code for _ in range(10)]
            slowest = (time.monotonic() - started) / 10
        finally:
            postgres.resume()
        wait_until(
            lambda: httpx.get(f"{s.api.base_url}/readyz", timeout=30).status_code == 200,
            60,
            "readiness",
        )
        after = sum(s.evaluate().status_code == 200 for _ in range(50))
        s.wait_all_terminal(before + after, 300)
        return {
            "accepted_before": before,
            "statuses_while_down": sorted(set(during)),
            "mean_seconds_per_request_while_down": round(slowest, 3),
            "accepted_after": after,
            **s.tally(),
        }


def main() -> None:
    postgres = PostgresServer()
    postgres.start()
    postgres.build_template()
    kafka = KafkaServer()
    kafka.start()
    figures: dict[str, Any] = {"date": datetime.now().date().isoformat()}
    try:
        for scenario in (
            three_workers_500_jobs,
            repeated_sigkill_200_jobs,
            broker_down_50_requests,
            database_restart,
        ):
            figures[scenario.__name__] = scenario(postgres, kafka)
            print(f"{scenario.__name__}: {json.dumps(figures[scenario.__name__])}", flush=True)
    finally:
        kafka.stop()
        postgres.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
