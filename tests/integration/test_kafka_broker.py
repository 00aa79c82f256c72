"""The throwaway Kafka broker does what the queue adapter's tests will rely on.

Topics with several partitions, idempotent keyed produce, a consumer group with manual commits,
and committed offsets that outlive a broker restart on the same address.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.kafka_server import KafkaServer

PARTITIONS = 8
MESSAGES = 100


@pytest.fixture
async def admin(kafka: KafkaServer) -> AsyncIterator[Any]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def topic(admin: Any) -> str:
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    response = await admin.create_topics(
        [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)]
    )
    errors = [(topic, code) for topic, code, *_ in response.topic_errors if code != 0]
    assert not errors, f"create_topics failed: {errors}"
    return name


def _producer(kafka: KafkaServer) -> Any:
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, enable_idempotence=True, acks="all"
    )


def _consumer(kafka: KafkaServer, topic: str, group: str) -> Any:
    # "earliest" makes a lost commit visible: the group would then re-read old messages.
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def _produce(kafka: KafkaServer, topic: str, keys: list[str]) -> None:
    producer = _producer(kafka)
    await producer.start()
    try:
        sent = [await producer.send(topic, key=k.encode(), value=b"payload") for k in keys]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _consume_and_commit(
    kafka: KafkaServer, topic: str, group: str, expected: int, timeout: float = 20.0
) -> Counter[str]:
    """Read until `expected` messages arrived, committing after each batch, then make sure
    no more follow."""
    consumer = _consumer(kafka, topic, group)
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        async with asyncio.timeout(timeout):
            while sum(seen.values()) < expected:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    seen.update(record.key.decode() for record in records)
                if batches:
                    await consumer.commit()
        # A duplicate delivered after the last expected message would otherwise go unnoticed.
        for records in (await consumer.getmany(timeout_ms=300)).values():
            seen.update(record.key.decode() for record in records)
    finally:
        await consumer.stop()
    return seen


async def _committed(admin: Any, topic: str, group: str) -> dict[int, int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def test_a_topic_gets_the_partitions_it_asks_for(admin: Any, topic: str) -> None:
    (description,) = await admin.describe_topics([topic])

    assert description["error_code"] == 0
    assert len(description["partitions"]) == PARTITIONS


async def test_every_keyed_message_reaches_the_group_exactly_once(
    kafka: KafkaServer, admin: Any, topic: str
) -> None:
    keys = [f"job-{number:03d}" for number in range(MESSAGES)]
    await _produce(kafka, topic, keys)

    seen = await _consume_and_commit(kafka, topic, "workers", expected=MESSAGES)

    assert seen == Counter(keys)
    committed = await _committed(admin, topic, "workers")
    assert len(committed) > 1, "100 keys should have spread over several partitions"
    assert sum(committed.values()) == MESSAGES


async def test_committed_offsets_and_the_address_survive_a_broker_restart(
    kafka: KafkaServer, admin: Any, topic: str
) -> None:
    await _produce(kafka, topic, [f"before-{number}" for number in range(10)])
    await _consume_and_commit(kafka, topic, "workers", expected=10)
    committed_before = await _committed(admin, topic, "workers")
    address_before = kafka.bootstrap_servers

    kafka.pause()
    assert not kafka.running
    kafka.resume()

    assert kafka.bootstrap_servers == address_before
    # Fresh clients: the admin client above still holds a connection to the stopped process.
    after = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await after.start()
    try:
        assert await _committed(after, topic, "workers") == committed_before
    finally:
        await after.close()
    await _produce(kafka, topic, ["after-restart"])
    seen = await _consume_and_commit(kafka, topic, "workers", expected=1)
    assert seen == Counter(["after-restart"])
