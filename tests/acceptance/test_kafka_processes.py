"""Real processes on the Kafka queue: an API, several workers, one of them killed mid-run."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable

from tests.acceptance.test_service_process import (
    db_rows,
    evaluate,
    serve_with_sample,
    wait_for_status,
)
from tests.support.kafka_server import KafkaServer
from tests.support.processes import CliProcess, wait_until

Spawn = Callable[..., CliProcess]


def test_workers_share_kafka_jobs_and_a_killed_one_loses_nothing(
    migrated: dict[str, str], spawn: Spawn, kafka: KafkaServer
) -> None:
    name = uuid.uuid4().hex[:8]
    env = {
        **migrated,
        "QUEUE_BACKEND": "kafka",
        "KAFKA_BROKERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC": f"jobs-{name}",
        "KAFKA_DEAD_LETTER_TOPIC": f"jobs-{name}.dlq",
        "KAFKA_CONSUMER_GROUP": f"workers-{name}",
        "KAFKA_PARTITIONS": "6",
        "KAFKA_SWEEP_INTERVAL_SECONDS": "0.5",
        "JOB_LEASE_SECONDS": "3",
        "AI_LOCAL_PROCESSES": "0",
    }
    api, ids = serve_with_sample(spawn, {**env, "APP_WORKERS": "0"})
    workers = [spawn("worker", env, "--concurrency", "2") for _ in range(3)]
    job_ids = [evaluate(api.base_url, ids) for _ in range(60)]
    wait_until(
        lambda: db_rows(migrated, "SELECT COUNT(*) FROM results")[0][0] >= 5, 60, "first results"
    )
    workers[0].signal(signal.SIGKILL)
    workers[0].wait(10)
    for job_id in job_ids:
        wait_for_status(api.base_url, job_id, "completed", 90)
    assert db_rows(migrated, "SELECT COUNT(*), COUNT(DISTINCT job_id) FROM results") == [(60, 60)]
    assert db_rows(migrated, "SELECT COUNT(*) FROM jobs WHERE status <> 'completed'") == [(0,)]
