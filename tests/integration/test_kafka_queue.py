"""The Kafka queue against a real broker: delivery, outbox, redelivery, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import QueueBackend, Settings
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.registry import all_checks
from cv_evaluator.ops.runner import run_check
from cv_evaluator.queue.kafka import KafkaJobQueue
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.storage.tables import jobs, results
from tests.integration.api_helpers import upload_texts, wait_for_terminal
from tests.support.kafka_server import KafkaServer


def kafka_settings(settings: Settings, kafka: KafkaServer, **extra: Any) -> Settings:
    # A topic and group of its own: tests share one broker but never each other's messages.
    name = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "queue_backend": QueueBackend.KAFKA,
            "kafka_brokers": kafka.bootstrap_servers,
            "kafka_topic": f"jobs-{name}",
            "kafka_dead_letter_topic": f"jobs-{name}.dlq",
            "kafka_consumer_group": f"workers-{name}",
            "kafka_partitions": 4,
            "kafka_sweep_interval_seconds": 0.3,
            **extra,
        }
    )


async def started(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=2)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield runtime, client


@pytest.fixture
async def service(
    settings: Settings, kafka: KafkaServer
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async for pair in started(kafka_settings(settings, kafka)):
        yield pair


async def count(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def committed_lag(runtime: Runtime) -> int:
    """Messages on the jobs topic not yet committed by the worker group."""
    settings = runtime.settings
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_brokers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.kafka_consumer_group)
    finally:
        await admin.close()
    queue = runtime.queue
    assert isinstance(queue, KafkaJobQueue)
    consumer = queue._consumer  # the worker's own consumer knows the end offsets
    assert consumer is not None
    ends = await consumer.end_offsets(list(offsets))
    return sum(ends[tp] - meta.offset for tp, meta in offsets.items())


async def test_jobs_flow_through_the_broker_exactly_once(
    service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = service
    ids = await upload_texts(client)
    job_ids = [(await client.post("/v1/evaluate", json=ids)).json()["id"] for _ in range(12)]
    for job_id in job_ids:
        assert (await wait_for_terminal(client, job_id))["status"] == "completed"
    assert await count(runtime, results) == 12
    async with asyncio.timeout(10):
        while await committed_lag(runtime) != 0:
            await asyncio.sleep(0.1)


async def test_a_redelivered_message_for_a_finished_job_is_skipped(
    service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = service
    ids = await upload_texts(client)
    job_id = (await client.post("/v1/evaluate", json=ids)).json()["id"]
    first = await wait_for_terminal(client, job_id)
    await runtime.queue.publish(job_id)  # the broker delivers it again
    async with asyncio.timeout(10):
        while await committed_lag(runtime) != 0:
            await asyncio.sleep(0.1)
    assert await count(runtime, results) == 1
    assert (await client.get(f"/v1/result/{job_id}")).json() == first


async def test_jobs_accepted_while_the_broker_is_down_complete_when_it_returns(
    service: tuple[Runtime, httpx.AsyncClient], kafka: KafkaServer
) -> None:
    runtime, client = service
    ids = await upload_texts(client)
    await asyncio.to_thread(kafka.pause)
    try:
        responses = [await client.post("/v1/evaluate", json=ids) for _ in range(5)]
    finally:
        await asyncio.to_thread(kafka.resume)
    assert [r.status_code for r in responses] == [200] * 5
    for response in responses:
        done = await wait_for_terminal(client, response.json()["id"], timeout=60)
        assert done["status"] == "completed"
    assert await count(runtime, results) == 5


async def test_a_job_that_fails_for_good_becomes_a_dead_letter_and_can_be_replayed(
    settings: Settings, kafka: KafkaServer
) -> None:
    failing = kafka_settings(settings, kafka, job_timeout_seconds=0.000001, job_max_attempts=1)
    async for runtime, client in started(failing):
        ids = await upload_texts(client)
        job_id = (await client.post("/v1/evaluate", json=ids)).json()["id"]
        failed = await wait_for_terminal(client, job_id)
        assert failed["error"]["code"] == "EVALUATION_TIMEOUT"
        queue = runtime.queue
        assert isinstance(queue, KafkaJobQueue)
        async with asyncio.timeout(10):
            while not (letters := await queue.read_dead_letters()):
                await asyncio.sleep(0.2)
        assert [letter["job_id"] for letter in letters] == [job_id]
        assert letters[0]["error"]["code"] == "EVALUATION_TIMEOUT"
        assert len(letters[0]["attempts"]) == 1
        # Replay, as `cv-evaluator queue dlq replay` does: the job runs again (and, with the same
        # impossible timeout, dies again: a second letter proves it was re-queued and re-run).
        assert await runtime.ledger.requeue_failed(job_id, runtime.clock.now())
        assert not await runtime.ledger.requeue_failed(job_id, runtime.clock.now())
        await queue.publish(job_id)
        async with asyncio.timeout(20):
            while len(await queue.read_dead_letters()) < 2:
                await asyncio.sleep(0.2)
        async with runtime.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(jobs.c.status, jobs.c.attempts).where(jobs.c.id == job_id)
                )
            ).one()
        assert tuple(row) == ("failed", 1)


async def test_maintenance_mode_pauses_consumption_but_keeps_the_group_membership(
    service: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = service
    assert runtime.maintenance is not None
    ids = await upload_texts(client)
    first = (await client.post("/v1/evaluate", json=ids)).json()["id"]
    await wait_for_terminal(client, first)  # the consumer has joined and works

    _state, bypass = await runtime.maintenance.start(reason="drain", actor="test", bypass=True)
    assert bypass is not None
    await asyncio.sleep(1.5)  # every worker loop has seen the mode
    held = await client.post(
        "/v1/evaluate", json=ids, headers={"X-Maintenance-Bypass": bypass, "Idempotency-Key": "m"}
    )
    job = held.json()["id"]
    await asyncio.sleep(3)
    assert (await client.get(f"/v1/result/{job}")).json()["status"] == "queued"

    # Still a member of the group while paused: no rebalance, nothing handed out.
    ops = OpsContext(runtime.settings, runtime.clock, runtime.engine)
    spec = next(s for s in all_checks() if s.name == "kafka.consumer_lag")
    lag = await run_check(
        replace(
            ops,
            settings=runtime.settings.model_copy(update={"maint_kafka_lag_interval_seconds": 0.3}),
        ),
        spec,
    )
    assert len(lag.details["members"]) == 1, lag.details
    assert lag.details["state"] == "Stable"

    await runtime.maintenance.stop(actor="test")
    assert (await wait_for_terminal(client, job, timeout=20))["status"] == "completed"
