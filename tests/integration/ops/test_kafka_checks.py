"""The Kafka checks against the real test broker: one topic and group of their own per test."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cv_evaluator.config import QueueBackend
from cv_evaluator.ops.checks.kafka import partition_problems
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, Status
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_check
from tests.integration.ops.conftest import OpsFactory
from tests.support.kafka_server import KafkaServer
from tests.support.processes import free_port

ALLOWANCE = 5


def kafka_ops(make_ops: OpsFactory, kafka: KafkaServer, **overrides: Any) -> OpsContext:
    # A topic and group of its own: tests share one broker but never each other's offsets.
    name = uuid.uuid4().hex[:8]
    settings: dict[str, Any] = {
        "queue_backend": QueueBackend.KAFKA,
        "kafka_brokers": kafka.bootstrap_servers,
        "kafka_topic": f"jobs-{name}",
        "kafka_dead_letter_topic": f"jobs-{name}.dlq",
        "kafka_consumer_group": f"workers-{name}",
        "maint_kafka_lag_allowance": ALLOWANCE,
        "maint_kafka_lag_samples": 3,
        "maint_kafka_lag_interval_seconds": 0.3,
        **overrides,
    }
    return make_ops("sqlite", **settings)


async def check(ctx: OpsContext, name: str) -> CheckResult:
    (spec,) = select_checks([name])
    return await run_check(ctx, spec)


async def create_topic(ctx: OpsContext, name: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.settings.kafka_brokers)
    await admin.start()
    try:
        topic = NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=1,
            topic_configs={"retention.ms": str(48 * 3600 * 1000)},
        )
        await admin.create_topics([topic])
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def producer(ctx: OpsContext) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=ctx.settings.kafka_brokers)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def produce(ctx: OpsContext, topic: str, count: int, partition: int = 0) -> None:
    async with producer(ctx) as client:
        for index in range(count):
            await client.send_and_wait(topic, f"job-{index}".encode(), partition=partition)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def group_member(ctx: OpsContext, client_id: str = "worker-test") -> AsyncIterator[Any]:
    """A consumer that has joined the workers' group and holds its partitions."""
    consumer = AIOKafkaConsumer(
        ctx.settings.kafka_topic,
        bootstrap_servers=ctx.settings.kafka_brokers,
        group_id=ctx.settings.kafka_consumer_group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        await wait_for(lambda: _assigned(consumer), "the consumer's partition assignment")
        yield consumer
    finally:
        await consumer.stop()


async def _assigned(consumer: Any) -> bool:
    return bool(consumer.assignment())


async def commit(ctx: OpsContext, consumer: Any, offset: int, partition: int = 0) -> None:
    await consumer.commit({TopicPartition(ctx.settings.kafka_topic, partition): offset})


# --- kafka.cluster


async def test_cluster_reports_the_broker_and_healthy_partitions(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    await create_topic(ctx, ctx.settings.kafka_topic, partitions=3)
    result = await check(ctx, "kafka.cluster")
    assert result.status is Status.OK, result.summary
    details = result.details
    assert [s["answered"] for s in details["bootstrap_servers"]] == [True]
    assert len(details["brokers"]) == 1 and details["controller_id"] >= 0
    assert ctx.settings.kafka_topic in details["topics_checked"]
    assert details["offline_partitions"] == [] and details["under_replicated_partitions"] == []
    assert [t.setting for t in result.thresholds] == ["MAINT_HTTP_TIMEOUT_SECONDS"]


async def test_unreachable_brokers_are_critical_within_seconds(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    ctx = kafka_ops(make_ops, kafka, kafka_brokers=closed)
    started = time.monotonic()
    result = await check(ctx, "kafka.cluster")
    assert time.monotonic() - started < 5
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(f"brokers unreachable: {closed}")
    assert result.details["bootstrap_servers"][0]["answered"] is False
    for name in ("kafka.topic", "kafka.consumer_lag", "kafka.dead_letters"):
        other = await check(ctx, name)
        assert other.status is Status.UNKNOWN, (name, other.summary)
        assert other.summary.startswith("brokers unreachable"), other.summary
    assert time.monotonic() - started < 10


async def test_a_silent_bootstrap_server_among_live_ones_is_warn(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    ctx = kafka_ops(make_ops, kafka, kafka_brokers=f"{kafka.bootstrap_servers},{closed}")
    result = await check(ctx, "kafka.cluster")
    assert result.status is Status.WARN, result.summary
    assert f"1 of 2 bootstrap server(s) did not answer: {closed}" in result.summary
    answered = {s["server"]: s["answered"] for s in result.details["bootstrap_servers"]}
    assert answered == {kafka.bootstrap_servers: True, closed: False}


def test_leaderless_and_under_replicated_partitions_are_told_apart() -> None:
    # A single test broker cannot lose a replica; the judgement itself is checked on the
    # metadata shape the broker returns.
    topics = {
        "jobs": {
            "partitions": [
                {"partition": 0, "leader": 1, "replicas": [1, 2], "isr": [1, 2], "error_code": 0},
                {"partition": 1, "leader": 1, "replicas": [1, 2], "isr": [1], "error_code": 9},
                {"partition": 2, "leader": -1, "replicas": [2], "isr": [], "error_code": 5},
            ]
        }
    }
    offline, under_replicated, total = partition_problems(topics, ["jobs"])
    assert total == 3
    assert [p["partition"] for p in offline] == [2]
    assert [(p["partition"], p["isr"]) for p in under_replicated] == [(1, [1])]


# --- kafka.topic


async def test_a_missing_jobs_topic_is_critical(make_ops: OpsFactory, kafka: KafkaServer) -> None:
    ctx = kafka_ops(make_ops, kafka)
    result = await check(ctx, "kafka.topic")
    assert result.status is Status.CRITICAL
    assert "does not exist" in result.summary and "workers cannot consume" in result.summary


async def test_the_jobs_topic_is_described_with_its_figures(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    topic = ctx.settings.kafka_topic
    await create_topic(ctx, topic, partitions=2)
    await produce(ctx, topic, 3, partition=1)
    result = await check(ctx, "kafka.topic")
    assert result.status is Status.OK, result.summary
    assert "2 partition(s)" in result.summary and "retention 48 h" in result.summary
    details = result.details
    assert details["messages_retained"] == 3
    assert details["configs"]["retention.ms"] == str(48 * 3600 * 1000)
    rows = {r["partition"]: r for r in details["partitions"]}
    assert rows[1]["high_watermark"] == 3 and rows[0]["high_watermark"] == 0
    assert rows[1]["leader"] >= 0 and rows[1]["replicas"] == [rows[1]["leader"]]


# --- kafka.consumer_lag


async def test_a_group_that_consumed_then_stopped_is_stop(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    topic = ctx.settings.kafka_topic
    await create_topic(ctx, topic)
    await produce(ctx, topic, 4)
    async with group_member(ctx) as consumer:
        await commit(ctx, consumer, 4)
    # The workers are gone; jobs keep arriving.
    await produce(ctx, topic, ALLOWANCE + 3)
    result = await check(ctx, "kafka.consumer_lag")
    assert result.status is Status.CRITICAL, result.summary
    assert "(STOP)" in result.summary and "start the workers" in result.summary
    details = result.details
    assert details["verdict"] == "STOP"
    assert details["members"] == [] and details["member_counts"] == [0, 0, 0]
    (partition,) = details["partitions"]
    assert partition["committed"] == 4 and partition["log_end"] == ALLOWANCE + 7
    assert partition["lag"] == ALLOWANCE + 3
    assert [s["committed"] for s in partition["samples"]] == [4, 4, 4]
    assert details["total_lag"] == ALLOWANCE + 3
    assert {t.setting for t in result.thresholds} >= {
        "MAINT_KAFKA_LAG_ALLOWANCE",
        "MAINT_KAFKA_LAG_SAMPLES",
        "MAINT_KAFKA_LAG_INTERVAL_SECONDS",
    }


async def test_a_group_that_never_committed_is_stop_unless_the_topic_is_empty(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka, maint_kafka_lag_samples=2)
    topic = ctx.settings.kafka_topic
    await create_topic(ctx, topic, partitions=2)
    empty = await check(ctx, "kafka.consumer_lag")
    assert empty.status is Status.OK, empty.summary
    await produce(ctx, topic, 2)  # within the allowance, but nobody will ever read them
    result = await check(ctx, "kafka.consumer_lag")
    assert result.status is Status.CRITICAL, result.summary
    assert "no consumer has ever committed" in result.summary


async def test_a_member_that_does_not_commit_is_stall(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    topic = ctx.settings.kafka_topic
    await create_topic(ctx, topic)
    await produce(ctx, topic, ALLOWANCE + 10)
    async with group_member(ctx, client_id="stuck-worker") as consumer:
        await commit(ctx, consumer, 2)
        result = await check(ctx, "kafka.consumer_lag")
    assert result.status is Status.CRITICAL, result.summary
    assert "(STALL)" in result.summary
    details = result.details
    assert details["verdict"] == "STALL"
    (member,) = details["members"]
    assert member["client_id"] == "stuck-worker"
    assert member["assignment"] == {topic: [0]}
    (partition,) = details["partitions"]
    assert partition["owner"].startswith("stuck-worker@")
    assert partition["lag"] == ALLOWANCE + 8


async def _advance_commits(ctx: OpsContext, consumer: Any, start: int, step: int) -> None:
    offset = start
    while True:
        offset += step
        await commit(ctx, consumer, offset)
        await asyncio.sleep(0.1)


async def _keep_producing(ctx: OpsContext) -> None:
    async with producer(ctx) as client:
        while True:
            batch = [
                await client.send(ctx.settings.kafka_topic, b"job", partition=0) for _ in range(10)
            ]
            await asyncio.gather(*batch)
            await asyncio.sleep(0.05)


async def test_a_consumer_catching_up_is_ok(make_ops: OpsFactory, kafka: KafkaServer) -> None:
    ctx = kafka_ops(make_ops, kafka)
    topic = ctx.settings.kafka_topic
    await create_topic(ctx, topic)
    await produce(ctx, topic, 300)
    async with group_member(ctx) as consumer:
        await commit(ctx, consumer, 0)
        committer = asyncio.create_task(_advance_commits(ctx, consumer, 0, 5))
        try:
            result = await check(ctx, "kafka.consumer_lag")
        finally:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
    assert result.status is Status.OK, result.summary
    (partition,) = result.details["partitions"]
    lags = [s["lag"] for s in partition["samples"]]
    assert lags == sorted(lags, reverse=True) and lags[-1] < lags[0], lags
    assert "catching up" in partition["reason"]


async def test_commits_advancing_slower_than_the_producer_is_warn(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    topic = ctx.settings.kafka_topic
    await create_topic(ctx, topic)
    await produce(ctx, topic, 50)
    async with group_member(ctx) as consumer:
        await commit(ctx, consumer, 0)
        background = [
            asyncio.create_task(_keep_producing(ctx)),
            asyncio.create_task(_advance_commits(ctx, consumer, 0, 1)),
        ]
        try:
            result = await check(ctx, "kafka.consumer_lag")
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
    assert result.status is Status.WARN, result.summary
    assert "falling behind" in result.summary
    (partition,) = result.details["partitions"]
    assert partition["verdict"] == "WARN"
    committed = [s["committed"] for s in partition["samples"]]
    assert committed[-1] > committed[0]


async def test_a_missing_topic_leaves_the_lag_unknown(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    result = await check(ctx, "kafka.consumer_lag")
    assert result.status is Status.UNKNOWN
    assert "does not exist" in result.summary


async def test_a_window_longer_than_the_check_time_limit_is_refused(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(
        make_ops,
        kafka,
        maint_kafka_lag_samples=5,
        maint_kafka_lag_interval_seconds=10.0,
        maint_check_timeout_seconds=20.0,
    )
    result = await check(ctx, "kafka.consumer_lag")
    assert result.status is Status.UNKNOWN
    assert "MAINT_CHECK_TIMEOUT_SECONDS" in result.summary


# --- kafka.dead_letters


async def test_dead_letters_are_warn_and_their_absence_ok(
    make_ops: OpsFactory, kafka: KafkaServer
) -> None:
    ctx = kafka_ops(make_ops, kafka)
    dlq = ctx.settings.kafka_dead_letter_topic
    missing = await check(ctx, "kafka.dead_letters")
    assert missing.status is Status.OK
    assert "no dead-letter topic yet" in missing.summary
    await create_topic(ctx, dlq)
    empty = await check(ctx, "kafka.dead_letters")
    assert empty.status is Status.OK and empty.details["depth"] == 0
    await produce(ctx, dlq, 3)
    result = await check(ctx, "kafka.dead_letters")
    assert result.status is Status.WARN
    assert result.details["depth"] == 3
    assert "cv-evaluator queue dlq list" in result.summary
