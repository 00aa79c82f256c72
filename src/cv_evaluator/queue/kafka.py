"""The Kafka-protocol queue (Redpanda in production, Apache Kafka in tests).

Messages carry job ids only; the job row stays the source of truth. The row is committed before
its id is published, and a process that cannot reach the broker leaves the job for the outbox
sweeper, which publishes every job the broker has no live message for: accepted while the broker
was down, due for a retry, left by a dead worker, or waiting far longer than it should. A worker
claims the row it was handed (conditional ``queued → processing``), and commits the message's
offset only once the outcome is in the database, so delivery is at least once and results are
exactly once: a redelivered message for a finished job is acknowledged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from cv_evaluator.background import BackgroundTask
from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.errors import Unavailable
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.ports import JobLedger
from cv_evaluator.observability import tracing

log = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_SECONDS = 5.0
_SWEEP_BATCH = 200


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    brokers: str
    topic: str
    dead_letter_topic: str
    group: str
    partitions: int
    retention_hours: float
    lease_seconds: float
    sweep_interval_seconds: float
    republish_after_seconds: float
    prefetch: int = 4


@dataclass
class _PartitionOffsets:
    """Offsets handed out on one partition; commits advance only over a finished prefix."""

    pending: dict[int, bool] = field(default_factory=dict)

    def start(self, offset: int) -> None:
        self.pending[offset] = False

    def finish(self, offset: int) -> int | None:
        """Mark ``offset`` finished; the offset to commit if the finished prefix grew."""
        if offset not in self.pending:
            return None
        self.pending[offset] = True
        commit: int | None = None
        for pending in sorted(self.pending):
            if not self.pending[pending]:
                break
            del self.pending[pending]
            commit = pending + 1
        return commit


def _job_id(record: Any) -> str | None:
    try:
        payload = json.loads(record.value)
        job_id = payload["job_id"]
    except (ValueError, KeyError, TypeError):
        return None
    return job_id if isinstance(job_id, str) else None


class KafkaJobQueue:
    def __init__(self, ledger: JobLedger, clock: Clock, settings: KafkaSettings) -> None:
        self._ledger = ledger
        self._clock = clock
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._records: asyncio.Queue[Any] = asyncio.Queue(maxsize=settings.prefetch)
        self._paused = False
        self._fetcher: BackgroundTask | None = None
        self._sweeper = BackgroundTask(self._sweep_forever)
        self._offsets: dict[TopicPartition, _PartitionOffsets] = {}
        self._delivered: dict[str, list[tuple[TopicPartition, int]]] = {}
        self._closed = False
        self._consumer_lock = asyncio.Lock()
        self._skip_publish_until = 0.0

    # --- lifecycle

    async def start(self) -> None:
        """Ensure the topics exist, connect the producer and start the outbox sweeper."""
        try:
            await self.ensure_topics()
            await self._ensure_producer()
        except (KafkaError, OSError) as exc:
            # The service still accepts jobs: the sweeper publishes them once the broker answers.
            log.warning(
                "Kafka is unreachable at start; jobs will be published when it returns",
                extra={"reason": type(exc).__name__},
            )
        self._sweeper.start()

    async def ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.brokers)
        await admin.start()
        try:
            brokers = len((await admin.describe_cluster())["brokers"])
            replication = max(1, min(3, brokers))
            retention = str(int(self._settings.retention_hours * 3600 * 1000))
            for name, partitions in (
                (self._settings.topic, self._settings.partitions),
                (self._settings.dead_letter_topic, 1),
            ):
                topic = NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=replication,
                    topic_configs={"retention.ms": retention},
                )
                with contextlib.suppress(TopicAlreadyExistsError):
                    response = await admin.create_topics([topic])
                    errors = [code for _, code, *_ in response.topic_errors if code not in (0, 36)]
                    if errors:  # 36: TOPIC_ALREADY_EXISTS, reported in the response
                        raise KafkaError(f"could not create topic {name}: error {errors[0]}")
        finally:
            await admin.close()

    def close(self) -> None:
        """Stop handing out jobs (graceful shutdown); in-flight ones may still be acknowledged."""
        self._closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._records.put_nowait(None)

    async def stop(self) -> None:
        self.close()
        await self._sweeper.stop()
        if self._fetcher is not None:
            await self._fetcher.stop()
        if self._consumer is not None:
            with contextlib.suppress(KafkaError):
                await self._consumer.stop()  # commits nothing more; leaves the group
        if self._producer is not None:
            with contextlib.suppress(KafkaError):
                await self._producer.stop()

    # --- producing

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.brokers, enable_idempotence=True, acks="all"
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # a half-started client still holds connections
                raise
            self._producer = producer
        return self._producer

    async def publish(self, job_id: str) -> None:
        """Publish a committed job; on failure leave it to the sweeper (the request succeeds).

        After a failure, requests stop trying for a sweep interval: while the broker is away each
        attempt would cost the caller the whole publish timeout, and the sweeper publishes the
        job as soon as the broker answers again.
        """
        if asyncio.get_running_loop().time() < self._skip_publish_until:
            return
        if not await self._send(job_id):
            self._skip_publish_until = (
                asyncio.get_running_loop().time() + self._settings.sweep_interval_seconds
            )
            log.warning("could not publish a job; the sweeper will", extra={"job": job_id})

    async def _send(self, job_id: str) -> bool:
        payload = json.dumps({"job_id": job_id}).encode()
        try:
            async with asyncio.timeout(_PUBLISH_TIMEOUT_SECONDS):
                producer = await self._ensure_producer()
                await producer.send_and_wait(
                    self._settings.topic,
                    payload,
                    key=job_id.encode(),
                    # The current trace context (the request's publish span), for consumers
                    # that read the message without the job row.
                    headers=tracing.kafka_headers(),
                )
        except (KafkaError, OSError, TimeoutError):
            return False
        self._skip_publish_until = 0.0
        await self._ledger.mark_published(job_id, self._clock.now())
        return True

    async def sweep_once(self) -> int:
        now = self._clock.now()
        stale = now - timedelta(seconds=self._settings.republish_after_seconds)
        published = 0
        for job_id in await self._ledger.due_for_publish(now, stale, _SWEEP_BATCH):
            if not await self._send(job_id):
                break  # the broker is away; try again next round
            published += 1
        return published

    async def _sweep_forever(self) -> None:
        while True:
            try:
                count = await self.sweep_once()
                if count:
                    log.info("published jobs the broker had no message for", extra={"count": count})
            except Unavailable:
                pass  # the database is away; the next round tries again
            except Exception:
                log.exception("outbox sweep failed")
            await asyncio.sleep(self._settings.sweep_interval_seconds)

    async def dead_letter(
        self, job: Job, code: str, message: str, attempts: Sequence[Mapping[str, Any]]
    ) -> None:
        """Record a job that failed for good on the dead-letter topic (best effort: the job row
        already says ``failed``, and ``queue dlq replay`` works from the row)."""
        payload = {
            "job_id": job.id,
            "error": {"code": code, "message": message},
            "attempts": list(attempts),
            "failed_at": self._clock.now().isoformat(),
            "request_id": job.request_id,
        }
        try:
            async with asyncio.timeout(_PUBLISH_TIMEOUT_SECONDS):
                producer = await self._ensure_producer()
                await producer.send_and_wait(
                    self._settings.dead_letter_topic,
                    json.dumps(payload, default=str).encode(),
                    key=job.id.encode(),
                )
        except (KafkaError, OSError, TimeoutError):
            log.warning("could not write a dead letter", extra={"job": job.id})

    async def read_dead_letters(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every dead letter on the topic, oldest first (up to ``limit``), without a group."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.brokers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        partitions = await self._partitions(self._settings.dead_letter_topic)
        await consumer.start()
        try:
            tps = [TopicPartition(self._settings.dead_letter_topic, p) for p in partitions]
            if not tps:
                return []
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            letters: list[dict[str, Any]] = []
            while len(letters) < limit and await self._behind(consumer, ends):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        with contextlib.suppress(ValueError):
                            letters.append(json.loads(record.value))
            return letters[:limit]
        finally:
            await consumer.stop()

    async def _partitions(self, topic: str) -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.brokers)
        await admin.start()
        try:
            (description,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        if description.get("error_code", 0) != 0:
            return []
        return sorted(int(p["partition"]) for p in description.get("partitions", []))

    @staticmethod
    async def _behind(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return True
        return False

    # --- consuming

    async def _ensure_consumer(self) -> None:
        # Every worker loop of the process asks at once on start; one consumer serves them all.
        async with self._consumer_lock:
            if self._consumer is None:
                await self._start_consumer()

    async def _start_consumer(self) -> None:
        consumer = AIOKafkaConsumer(
            self._settings.topic,
            bootstrap_servers=self._settings.brokers,
            group_id=self._settings.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            raise Unavailable(
                "the message broker is unavailable", details={"reason": type(exc).__name__}
            ) from exc
        self._consumer = consumer
        self._fetcher = BackgroundTask(lambda: self._fetch_forever(consumer))
        self._fetcher.start()

    def set_paused(self, paused: bool) -> None:
        """Maintenance mode: stop fetching new jobs but stay in the consumer group.

        The fetcher keeps polling with every assigned partition paused, so the broker sees a
        live member (no rebalance, however long the pause) and hands out nothing.
        """
        self._paused = paused

    def _apply_pause(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        if self._paused:
            consumer.pause(*assigned)
        else:
            consumer.resume(*(tp for tp in consumer.paused() if tp in assigned))

    async def _fetch_forever(self, consumer: AIOKafkaConsumer) -> None:
        pending: deque[Any] = deque()
        while not self._closed:
            if not pending:
                pending.extend(await self._fetch(consumer, timeout_ms=500))
                continue
            try:
                await asyncio.wait_for(self._records.put(pending[0]), 1.0)
            except TimeoutError:
                # No worker takes records. While paused, keep polling so the broker still sees
                # a live member; paused partitions return nothing, and whatever comes anyway is
                # kept in order, never dropped.
                if self._paused:
                    pending.extend(await self._fetch(consumer, timeout_ms=0))
                continue
            pending.popleft()

    async def _fetch(self, consumer: AIOKafkaConsumer, *, timeout_ms: int) -> list[Any]:
        try:
            # Re-applied every round: a rebalance may have assigned new partitions.
            self._apply_pause(consumer)
            batches = await consumer.getmany(
                timeout_ms=timeout_ms, max_records=self._settings.prefetch
            )
        except KafkaError:
            log.warning("fetching from Kafka failed; retrying", exc_info=True)
            await asyncio.sleep(1)
            return []
        return [record for records in batches.values() for record in records]

    async def next_job(self, worker_id: str, timeout: float) -> Job | None:
        if self._closed:
            return None
        await self._ensure_consumer()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if self._is_closed() or remaining <= 0:
                return None
            try:
                record = await asyncio.wait_for(self._records.get(), remaining)
            except TimeoutError:
                return None
            if record is None:
                return None
            job = await self._claim(record, worker_id)
            if job is not None:
                return job

    def _is_closed(self) -> bool:
        # A method, not the attribute: close() flips it while next_job() waits.
        return self._closed

    async def _claim(self, record: Any, worker_id: str) -> Job | None:
        tp = TopicPartition(record.topic, record.partition)
        self._offsets.setdefault(tp, _PartitionOffsets()).start(record.offset)
        job_id = _job_id(record)
        job = None
        if job_id is not None:
            now = self._clock.now()
            lease_until = now + timedelta(seconds=self._settings.lease_seconds)
            job = await self._ledger.claim(job_id, worker_id, now, lease_until)
        if job is None:
            # Finished, not due yet, held by a live worker, or not ours: nothing to do here.
            await self._finish(tp, record.offset)
            return None
        self._delivered.setdefault(job.id, []).append((tp, record.offset))
        if job.trace_context is None:
            # A job queued without one (tracing was off there) may still have been published
            # from inside a trace.
            carrier = tracing.carrier_from_headers(record.headers)
            if carrier:
                job = replace(job, trace_context=carrier)
        return job

    async def done(self, job: Job) -> None:
        for tp, offset in self._delivered.pop(job.id, []):
            await self._finish(tp, offset)

    async def _finish(self, tp: TopicPartition, offset: int) -> None:
        commit = self._offsets[tp].finish(offset)
        if commit is None or self._consumer is None:
            return
        try:
            await self._consumer.commit({tp: commit})
        except KafkaError:
            # The partition moved to another worker; it will re-read from the last commit and
            # the claims make those redeliveries no-ops.
            log.info("offset commit refused after a rebalance", extra={"partition": tp.partition})
