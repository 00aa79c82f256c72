"""Kafka checks: the brokers, the jobs topic, the workers' consumer group (Burrow-style lag) and
the dead-letter topic.

Every check only reads: topics are listed from the all-topics metadata (asking the broker about
one named topic may create it where ``auto.create.topics.enable`` is on), offsets come from a
consumer without a group (it joins nothing and commits nothing). Clients get short time limits
so that a broker that is away is reported in seconds, and they are always closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError, for_code

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.lag import GroupVerdict, OffsetSample, Verdict, evaluate_group
from cv_evaluator.ops.model import Outcome, Status, Threshold
from cv_evaluator.ops.registry import check, needs_kafka

_CLIENT_ID = "cv-evaluator-maint"
_DEFAULT_PORT = 9092
_OFFSETS_TOPIC = "__consumer_offsets"
_TOPIC_CONFIGS = ("retention.ms", "retention.bytes", "cleanup.policy", "min.insync.replicas")
_DLQ_HINT = "cv-evaluator queue dlq list"
# The metadata error of a partition whose leader serves while a follower is missing: readable
# and writable, so under-replicated rather than offline.
_REPLICA_NOT_AVAILABLE = 9


class BrokersUnreachable(Exception):
    """No configured bootstrap server answered the Kafka protocol in time."""


# --- clients


def request_timeout(ctx: OpsContext) -> float:
    """Seconds one connection or request may take: the HTTP limit, within the check's limit."""
    settings = ctx.settings
    return min(settings.maint_http_timeout_seconds, settings.maint_check_timeout_seconds)


def timeout_threshold(ctx: OpsContext) -> Threshold:
    return ctx.threshold("maint_http_timeout_seconds", "broker request timeout", "s")


def bootstrap_servers(ctx: OpsContext) -> list[str]:
    return [part.strip() for part in ctx.settings.kafka_brokers.split(",") if part.strip()]


def _unreachable(ctx: OpsContext, servers: str, exc: BaseException) -> BrokersUnreachable:
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {request_timeout(ctx):g} s"
    else:
        reason = f"{type(exc).__name__}: could not connect"
    return BrokersUnreachable(f"none of {servers} answered ({reason})")


@contextlib.asynccontextmanager
async def _started(
    ctx: OpsContext,
    servers: str,
    start: Callable[[], Awaitable[Any]],
    stop: Callable[[], Awaitable[Any]],
) -> AsyncIterator[None]:
    """Start a client within the time limit; always stop it, even half-started."""
    try:
        try:
            async with asyncio.timeout(request_timeout(ctx)):
                await start()
        except (KafkaError, OSError, TimeoutError) as exc:
            raise _unreachable(ctx, servers, exc) from exc
        yield
    finally:
        # A half-started client still holds connections.
        with contextlib.suppress(KafkaError, OSError):
            await stop()


@contextlib.asynccontextmanager
async def admin_client(ctx: OpsContext, servers: str | None = None) -> AsyncIterator[Any]:
    servers = servers or ctx.settings.kafka_brokers
    admin = AIOKafkaAdminClient(
        bootstrap_servers=servers,
        client_id=_CLIENT_ID,
        request_timeout_ms=max(1, int(request_timeout(ctx) * 1000)),
    )
    async with _started(ctx, servers, admin.start, admin.close):
        yield admin


@contextlib.asynccontextmanager
async def offsets_reader(ctx: OpsContext) -> AsyncIterator[Any]:
    """A consumer without a group: it reads log bounds, joins nothing, commits nothing."""
    servers = ctx.settings.kafka_brokers
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        client_id=_CLIENT_ID,
        enable_auto_commit=False,
        request_timeout_ms=max(1, int(request_timeout(ctx) * 1000)),
    )
    async with _started(ctx, servers, consumer.start, consumer.stop):
        yield consumer


def broker_error(exc: KafkaError, thresholds: Sequence[Threshold]) -> Outcome:
    text = str(exc).strip().splitlines()
    return Outcome(
        Status.UNKNOWN,
        f"broker error: {type(exc).__name__}" + (f": {text[0]}" if text else ""),
        {},
        thresholds,
    )


async def all_topics(admin: Any) -> dict[str, dict[str, Any]]:
    """Every topic's metadata by name (the all-topics request never creates a topic)."""
    return {str(t["topic"]): t for t in await admin.describe_topics()}


def _has_leader(partition: Mapping[str, Any]) -> bool:
    code = int(partition.get("error_code", 0))
    return int(partition.get("leader", -1)) >= 0 and code in (0, _REPLICA_NOT_AVAILABLE)


@dataclass(frozen=True, slots=True)
class LogBounds:
    start: dict[int, int]
    end: dict[int, int]


async def log_bounds(consumer: Any, topic: str, partitions: Sequence[int]) -> LogBounds:
    if not partitions:
        return LogBounds({}, {})
    tps = [TopicPartition(topic, p) for p in partitions]
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    return LogBounds(
        start={tp.partition: int(offset) for tp, offset in starts.items()},
        end={tp.partition: int(offset) for tp, offset in ends.items()},
    )


# --- kafka.cluster


@dataclass(frozen=True, slots=True)
class _Probe:
    server: str
    answered: bool
    reason: str | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "answered": self.answered,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


def _host_port(server: str) -> tuple[str, int]:
    host, colon, port = server.rpartition(":")
    if not colon or not port.isdigit():
        return server.strip("[]"), _DEFAULT_PORT
    return host.strip("[]"), int(port)


async def _tcp_reason(server: str, limit: float) -> str:
    """Why a server did not answer, as precisely as the network tells it."""
    host, port = _host_port(server)
    try:
        async with asyncio.timeout(limit):
            _reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"no TCP answer within {limit:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "accepts TCP connections but does not answer the Kafka protocol"


async def _probe(ctx: OpsContext, server: str) -> _Probe:
    started = time.perf_counter()
    try:
        async with admin_client(ctx, server):
            pass
    except BrokersUnreachable:
        reason = await _tcp_reason(server, request_timeout(ctx))
        return _Probe(server, False, reason, time.perf_counter() - started)
    return _Probe(server, True, None, time.perf_counter() - started)


def partition_problems(
    topics: Mapping[str, Mapping[str, Any]], names: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    offline: list[dict[str, Any]] = []
    under_replicated: list[dict[str, Any]] = []
    total = 0
    for name in names:
        for partition in topics[name].get("partitions", []):
            total += 1
            replicas = list(partition.get("replicas", []))
            isr = list(partition.get("isr", []))
            entry = {
                "topic": name,
                "partition": int(partition["partition"]),
                "leader": int(partition.get("leader", -1)),
                "replicas": replicas,
                "isr": isr,
            }
            if not _has_leader(partition):
                offline.append(entry)
            elif len(isr) < len(replicas):
                under_replicated.append(entry)
    return offline, under_replicated, total


@check(
    "kafka.cluster",
    group="kafka",
    description="Brokers reachable, controller, and leaderless or under-replicated partitions.",
    applies=needs_kafka,
)
async def kafka_cluster(ctx: OpsContext) -> Outcome:
    thresholds = [timeout_threshold(ctx)]
    servers = bootstrap_servers(ctx)
    probes = list(await asyncio.gather(*(_probe(ctx, server) for server in servers)))
    answered = [p.server for p in probes if p.answered]
    details: dict[str, Any] = {"bootstrap_servers": [p.as_dict() for p in probes]}
    if not answered:
        reasons = "; ".join(f"{p.server}: {p.reason}" for p in probes) or "KAFKA_BROKERS is empty"
        return Outcome(Status.CRITICAL, f"brokers unreachable: {reasons}", details, thresholds)
    try:
        async with admin_client(ctx, ",".join(answered)) as admin:
            cluster = await admin.describe_cluster()
            topics = await all_topics(admin)
    except BrokersUnreachable as exc:
        return Outcome(Status.CRITICAL, f"brokers unreachable: {exc}", details, thresholds)
    except KafkaError as exc:
        return broker_error(exc, thresholds)

    brokers = sorted(cluster.get("brokers", []), key=lambda b: int(b["node_id"]))
    controller = int(cluster.get("controller_id", -1))
    watched = [
        name
        for name in (
            ctx.settings.kafka_topic,
            ctx.settings.kafka_dead_letter_topic,
            _OFFSETS_TOPIC,
        )
        if name in topics
    ]
    offline, under_replicated, partitions = partition_problems(topics, watched)
    details.update(
        {
            "cluster_id": cluster.get("cluster_id"),
            "controller_id": controller,
            "brokers": [
                {
                    "node_id": int(b["node_id"]),
                    "host": b["host"],
                    "port": int(b["port"]),
                    "rack": b.get("rack"),
                }
                for b in brokers
            ],
            "topics_checked": watched,
            "partitions_checked": partitions,
            "offline_partitions": offline,
            "under_replicated_partitions": under_replicated,
        }
    )
    figures = (
        f"{len(brokers)} broker(s), controller {controller}, "
        f"{partitions} partition(s) of {', '.join(watched) or 'no service topic yet'}"
    )
    if offline:
        first = offline[0]
        return Outcome(
            Status.CRITICAL,
            f"{len(offline)} partition(s) without a leader (first: {first['topic']}/"
            f"{first['partition']}, replicas {first['replicas']}): nothing can be written to or "
            f"read from them; {figures}",
            details,
            thresholds,
        )
    problems: list[str] = []
    if under_replicated:
        first = under_replicated[0]
        problems.append(
            f"{len(under_replicated)} under-replicated partition(s) (first: {first['topic']}/"
            f"{first['partition']}, ISR {first['isr']} of replicas {first['replicas']})"
        )
    silent = [p for p in probes if not p.answered]
    if silent:
        problems.append(
            f"{len(silent)} of {len(probes)} bootstrap server(s) did not answer: "
            + "; ".join(f"{p.server}: {p.reason}" for p in silent)
        )
    if controller < 0:
        problems.append("no active controller reported")
    if problems:
        return Outcome(Status.WARN, "; ".join(problems) + f"; {figures}", details, thresholds)
    return Outcome(
        Status.OK, f"{figures}: every partition has a leader and a full ISR", details, thresholds
    )


# --- kafka.topic


async def _topic_configs(admin: Any, topic: str) -> dict[str, str | None]:
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, dict.fromkeys(_TOPIC_CONFIGS))
    configs: dict[str, str | None] = {}
    for response in await admin.describe_configs([resource]):
        for entry in response.to_object().get("resources", []):
            if int(entry.get("error_code", 0)) != 0:
                continue
            for config in entry.get("config_entries", []):
                configs[str(config["config_names"])] = config.get("config_value")
    return configs


def _retention_text(value: str | None) -> str:
    if value is None:
        return "retention unknown"
    milliseconds = int(value)
    if milliseconds < 0:
        return "retention unlimited"
    return f"retention {milliseconds / 3_600_000:.4g} h"


@check(
    "kafka.topic",
    group="kafka",
    description="The jobs topic: partitions, leaders, replicas, high watermarks, retention.",
    applies=needs_kafka,
)
async def kafka_topic(ctx: OpsContext) -> Outcome:
    thresholds = [timeout_threshold(ctx)]
    name = ctx.settings.kafka_topic
    try:
        async with admin_client(ctx) as admin:
            topics = await all_topics(admin)
            description = topics.get(name)
            if description is None:
                return Outcome(
                    Status.CRITICAL,
                    f"topic {name} does not exist: workers cannot consume and jobs are not "
                    "delivered (the service creates it at start; check KAFKA_TOPIC and the "
                    "service's start-up log)",
                    {"topic": name, "exists": False},
                    thresholds,
                )
            if int(description.get("error_code", 0)) != 0:
                error = for_code(int(description["error_code"])).__name__
                return Outcome(
                    Status.UNKNOWN,
                    f"topic {name}: the broker answered {error}",
                    {"topic": name, "error": error},
                    thresholds,
                )
            configs = await _topic_configs(admin, name)
        partitions = sorted(description.get("partitions", []), key=lambda p: int(p["partition"]))
        led = [int(p["partition"]) for p in partitions if _has_leader(p)]
        async with offsets_reader(ctx) as consumer:
            bounds = await log_bounds(consumer, name, led)
    except BrokersUnreachable as exc:
        return Outcome(Status.UNKNOWN, f"brokers unreachable: {exc}", {}, thresholds)
    except KafkaError as exc:
        return broker_error(exc, thresholds)

    rows: list[dict[str, Any]] = []
    for p in partitions:
        number = int(p["partition"])
        start, end = bounds.start.get(number), bounds.end.get(number)
        rows.append(
            {
                "partition": number,
                "leader": int(p.get("leader", -1)),
                "replicas": list(p.get("replicas", [])),
                "isr": list(p.get("isr", [])),
                "log_start": start,
                "high_watermark": end,
                "messages": None if start is None or end is None else end - start,
            }
        )
    retained = sum(r["messages"] or 0 for r in rows)
    high_watermarks = sum(r["high_watermark"] or 0 for r in rows)
    replication = max((len(r["replicas"]) for r in rows), default=0)
    leaderless = [r["partition"] for r in rows if r["partition"] not in led]
    details = {
        "topic": name,
        "exists": True,
        "partition_count": len(rows),
        "replication_factor": replication,
        "messages_retained": retained,
        "high_watermark_total": high_watermarks,
        "configs": configs,
        "partitions": rows,
        "partitions_without_leader": leaderless,
    }
    summary = (
        f"topic {name}: {len(rows)} partition(s), replication factor {replication}, "
        f"{retained} message(s) retained ({high_watermarks} ever written), "
        f"{_retention_text(configs.get('retention.ms'))}"
    )
    if leaderless:
        summary += f"; partitions {leaderless} have no leader (see kafka.cluster)"
    return Outcome(Status.OK, summary, details, thresholds)


# --- kafka.consumer_lag


@dataclass(frozen=True, slots=True)
class GroupState:
    state: str
    members: list[dict[str, Any]]


def _assignment(raw: bytes | None) -> dict[str, list[int]]:
    if not raw:
        return {}
    try:
        decoded = ConsumerProtocolMemberAssignment.decode(raw)
    except (ValueError, TypeError, IndexError):  # a member mid-rebalance or another protocol
        return {}
    return {
        str(topic): sorted(int(p) for p in partitions) for topic, partitions in decoded.assignment
    }


async def describe_group(admin: Any, group: str) -> GroupState:
    # One group per request: aiokafka 0.14 decodes a v3 DescribeGroups answer with the v2 layout,
    # which only stays aligned while the answer holds a single group.
    (response,) = await admin.describe_consumer_groups([group])
    (described,) = response.to_object()["groups"]
    code = int(described.get("error_code", 0))
    if code != 0:
        raise for_code(code)(f"describing consumer group {group}")
    members = [
        {
            "member_id": m["member_id"],
            "client_id": m["client_id"],
            "client_host": str(m["client_host"]).lstrip("/"),
            "assignment": _assignment(m.get("member_assignment")),
        }
        for m in described.get("members", [])
    ]
    return GroupState(state=str(described.get("state", "")), members=members)


@dataclass
class GroupWindow:
    """Offsets of the group on the jobs topic, sampled across a window."""

    group: str
    topic: str
    topic_exists: bool
    partitions: list[int] = field(default_factory=list)
    leaderless: list[int] = field(default_factory=list)
    samples: dict[int, list[OffsetSample]] = field(default_factory=dict)
    sampled_at: list[float] = field(default_factory=list)  # seconds since the first sample
    states: list[GroupState] = field(default_factory=list)

    @property
    def latest(self) -> GroupState:
        return self.states[-1]

    @property
    def members(self) -> int:
        return len(self.latest.members)

    def committed_moved(self) -> bool:
        """Whether any committed offset changed between the first and the last sample."""
        return any(series[0].committed != series[-1].committed for series in self.samples.values())

    def owners(self) -> dict[int, str]:
        owners: dict[int, str] = {}
        for member in self.latest.members:
            for partition in member["assignment"].get(self.topic, []):
                owners[partition] = f"{member['client_id']}@{member['client_host']}"
        return owners


async def sample_group(ctx: OpsContext, *, count: int, interval: float) -> GroupWindow:
    """Take ``count`` samples of the group's committed offsets and the log bounds."""
    settings = ctx.settings
    window = GroupWindow(settings.kafka_consumer_group, settings.kafka_topic, topic_exists=False)
    async with admin_client(ctx) as admin:
        description = (await all_topics(admin)).get(window.topic)
        if description is None:
            return window
        window.topic_exists = True
        partitions = description.get("partitions", [])
        window.partitions = sorted(int(p["partition"]) for p in partitions if _has_leader(p))
        window.leaderless = sorted(int(p["partition"]) for p in partitions if not _has_leader(p))
        tps = [TopicPartition(window.topic, p) for p in window.partitions]
        async with offsets_reader(ctx) as consumer:
            loop = asyncio.get_running_loop()
            first = loop.time()
            for index in range(count):
                if index:
                    await asyncio.sleep(interval)
                window.sampled_at.append(round(loop.time() - first, 3))
                # Commits first: the log end, read after, can only be further on, so the lag
                # of a sample is never negative.
                committed = (
                    await admin.list_consumer_group_offsets(window.group, partitions=tps)
                    if tps
                    else {}
                )
                bounds = await log_bounds(consumer, window.topic, window.partitions)
                window.states.append(await describe_group(admin, window.group))
                for partition in window.partitions:
                    meta = committed.get(TopicPartition(window.topic, partition))
                    offset = None if meta is None or int(meta.offset) < 0 else int(meta.offset)
                    window.samples.setdefault(partition, []).append(
                        OffsetSample(
                            committed=offset,
                            log_end=bounds.end[partition],
                            log_start=bounds.start[partition],
                        )
                    )
    return window


def window_thresholds(ctx: OpsContext) -> list[Threshold]:
    """The limits of a window of offset samples (the lag allowance aside)."""
    return [
        ctx.threshold("maint_kafka_lag_samples", "offset samples per window"),
        ctx.threshold("maint_kafka_lag_interval_seconds", "between two samples", "s"),
        timeout_threshold(ctx),
    ]


_HEADLINES = {
    Verdict.OK: "keeps up",
    Verdict.WARN: "is falling behind (WARN)",
    Verdict.REWIND: "rewound its committed offsets (REWIND)",
    Verdict.STALL: "is stalled (STALL)",
    Verdict.STOP: "has stopped (STOP)",
}
_ACTIONS = {
    Verdict.WARN: "add workers or find what slows them (job durations, evaluator latency)",
    Verdict.REWIND: "confirm the offset reset was intended; jobs already done are skipped",
    Verdict.STALL: "the workers are stuck: read their logs, then restart them",
    Verdict.STOP: "no worker is consuming: start the workers (`cv-evaluator worker`)",
}


def _lag_summary(window: GroupWindow, verdict: GroupVerdict, allowance: int) -> str:
    kind = verdict.verdict
    group = f"consumer group {window.group}"
    members = f"{verdict.members} member(s), group {window.latest.state or 'unknown'}"
    if kind is Verdict.OK:
        return (
            f"{group} keeps up: {verdict.reason}; total lag {verdict.total_lag} over "
            f"{len(verdict.partitions)} partition(s) (allowance {allowance} each), {members}"
        )
    return (
        f"{group} {_HEADLINES[kind]}: {verdict.reason}; {verdict.count(kind)} of "
        f"{len(verdict.partitions)} partition(s) affected, total lag {verdict.total_lag}, "
        f"{members} — {_ACTIONS[kind]}"
    )


@check(
    "kafka.consumer_lag",
    group="kafka",
    description="The workers' consumer group: members, offsets and a Burrow-style lag verdict.",
    applies=needs_kafka,
)
async def kafka_consumer_lag(ctx: OpsContext) -> Outcome:
    settings = ctx.settings
    thresholds = [
        ctx.threshold("maint_kafka_lag_allowance", "lag always OK up to", "messages"),
        *window_thresholds(ctx),
    ]
    count, interval = settings.maint_kafka_lag_samples, settings.maint_kafka_lag_interval_seconds
    span = (count - 1) * interval
    if span >= settings.maint_check_timeout_seconds:
        return Outcome(
            Status.UNKNOWN,
            f"the lag window ({count} samples {interval:g} s apart = {span:g} s) does not fit in "
            f"MAINT_CHECK_TIMEOUT_SECONDS ({settings.maint_check_timeout_seconds:g} s)",
            {},
            thresholds,
        )
    try:
        window = await sample_group(ctx, count=count, interval=interval)
    except BrokersUnreachable as exc:
        return Outcome(Status.UNKNOWN, f"brokers unreachable: {exc}", {}, thresholds)
    except KafkaError as exc:
        return broker_error(exc, thresholds)
    if not window.topic_exists:
        return Outcome(
            Status.UNKNOWN,
            f"cannot measure the lag of {window.group}: topic {window.topic} does not exist "
            "(see kafka.topic)",
            {"group": window.group, "topic": window.topic, "topic_exists": False},
            thresholds,
        )
    verdict = evaluate_group(
        window.samples, members=window.members, allowance=settings.maint_kafka_lag_allowance
    )
    owners = window.owners()
    partitions = []
    for partition in verdict.partitions:
        row = partition.as_dict()
        row["committed"] = partition.samples[-1].committed
        row["log_end"] = partition.samples[-1].log_end
        row["owner"] = owners.get(partition.partition)
        partitions.append(row)
    worst = verdict.worst
    details = {
        "group": window.group,
        "topic": window.topic,
        "state": window.latest.state,
        "members": window.latest.members,
        "member_counts": [len(s.members) for s in window.states],
        "verdict": verdict.verdict.value,
        "reason": verdict.reason,
        "total_lag": verdict.total_lag,
        "worst_partition": worst.partition if worst is not None else None,
        "sampled_at_seconds": window.sampled_at,
        "partitions": partitions,
        "partitions_without_leader": window.leaderless,
    }
    summary = _lag_summary(window, verdict, settings.maint_kafka_lag_allowance)
    return Outcome(verdict.status, summary, details, thresholds)


# --- kafka.dead_letters


@check(
    "kafka.dead_letters",
    group="kafka",
    description="Depth of the dead-letter topic: jobs that failed for good.",
    applies=needs_kafka,
)
async def kafka_dead_letters(ctx: OpsContext) -> Outcome:
    # Any dead letter is worth a look, so the only limit applied is the broker time limit.
    thresholds = [timeout_threshold(ctx)]
    name = ctx.settings.kafka_dead_letter_topic
    try:
        async with admin_client(ctx) as admin:
            description = (await all_topics(admin)).get(name)
        if description is None:
            return Outcome(
                Status.OK,
                f"no dead-letter topic yet ({name}): no job has been dead-lettered",
                {"topic": name, "exists": False, "depth": 0},
                thresholds,
            )
        partitions = description.get("partitions", [])
        led = sorted(int(p["partition"]) for p in partitions if _has_leader(p))
        leaderless = sorted(int(p["partition"]) for p in partitions if not _has_leader(p))
        async with offsets_reader(ctx) as consumer:
            bounds = await log_bounds(consumer, name, led)
    except BrokersUnreachable as exc:
        return Outcome(Status.UNKNOWN, f"brokers unreachable: {exc}", {}, thresholds)
    except KafkaError as exc:
        return broker_error(exc, thresholds)
    per_partition = {str(p): bounds.end[p] - bounds.start[p] for p in led}
    depth = sum(per_partition.values())
    details = {
        "topic": name,
        "exists": True,
        "depth": depth,
        "partitions": per_partition,
        "partitions_without_leader": leaderless,
        "hint": _DLQ_HINT,
    }
    if leaderless:
        return Outcome(
            Status.UNKNOWN,
            f"dead-letter topic {name}: partitions {leaderless} have no leader, depth unknown "
            f"({depth} on the others; see kafka.cluster)",
            details,
            thresholds,
        )
    if depth > 0:
        return Outcome(
            Status.WARN,
            f"{depth} dead letter(s) on {name}: jobs that failed for good; inspect them with "
            f"`{_DLQ_HINT}`, replay with `cv-evaluator queue dlq replay`",
            details,
            thresholds,
        )
    return Outcome(Status.OK, f"dead-letter topic {name} is empty", details, thresholds)
