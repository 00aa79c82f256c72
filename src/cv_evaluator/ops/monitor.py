"""The latest check results of an API process: behind `/metrics` and `GET /admin/api/health`.

One source of truth: the same checks the CLI runs, refreshed in the background every
`MAINT_MONITOR_INTERVAL_SECONDS`, and read by both the metrics collector and the admin API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckReport, CheckResult, Status
from cv_evaluator.ops.registry import CheckSpec
from cv_evaluator.ops.resources import disk_figures, watched_paths
from cv_evaluator.ops.runner import run_checks
from cv_evaluator.ops.runs import MaintenanceLog
from cv_evaluator.ops.schedules import Schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    report: CheckReport
    last_success: Mapping[str, datetime]
    taken_at: datetime


class HealthMonitor:
    def __init__(
        self,
        ctx: OpsContext,
        checks: Sequence[CheckSpec],
        schedules: Mapping[str, Schedule],
    ) -> None:
        self._ctx = ctx
        self._checks = list(checks)
        self._schedules = dict(schedules)
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()

    @property
    def ctx(self) -> OpsContext:
        return self._ctx

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    async def refresh(self) -> Snapshot:
        # One refresh at a time: an admin asking while the loop refreshes waits for that result.
        async with self._lock:
            report = await run_checks(self._ctx, self._checks)
            try:
                last = await MaintenanceLog(self._ctx).last_successes()
            except Exception as exc:  # the database may be what is down; keep the check results
                log.warning("cannot read the maintenance log: %s", type(exc).__name__)
                last = dict(self._snapshot.last_success) if self._snapshot else {}
            self._snapshot = Snapshot(report, last, self._ctx.clock.now())
            return self._snapshot

    async def run_forever(self) -> None:
        """Refresh every interval until asked to stop; a refresh under way is finished first."""
        interval = self._ctx.settings.maint_monitor_interval_seconds
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except Exception:
                log.exception("maintenance checks refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)

    def request_stop(self) -> None:
        self._stopping.set()

    async def health_document(self, *, refresh: bool = False) -> dict[str, Any]:
        snapshot = self._snapshot
        if refresh or snapshot is None:
            snapshot = await self.refresh()
        schedules = {}
        for name, schedule in self._schedules.items():
            last = snapshot.last_success.get(name)
            schedules[name] = {
                "every_days": schedule.every_days,
                "last_success": last.isoformat() if last else None,
            }
        return {
            "taken_at": snapshot.taken_at.isoformat(),
            "refresh_interval_seconds": self._ctx.settings.maint_monitor_interval_seconds,
            **snapshot.report.as_dict(),
            "schedules": schedules,
        }

    def collector(self) -> Collector:
        return _MonitorCollector(self)


def _result(report: CheckReport, name: str) -> CheckResult | None:
    for result in report.results:
        if result.check == name and result.status is not Status.SKIPPED:
            return result
    return None


def _number(report: CheckReport, name: str, key: str) -> float | None:
    result = _result(report, name)
    if result is None:
        return None
    value = result.details.get(key)
    return float(value) if isinstance(value, int | float) else None


class _MonitorCollector(Collector):
    """Gauges derived from the monitor's latest snapshot, computed at scrape time."""

    def __init__(self, monitor: HealthMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._disk()
        snapshot = self._monitor.snapshot
        if snapshot is not None:
            yield from snapshot_gauges(snapshot)

    def _disk(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "cv_evaluator_disk_free_ratio",
            "Free share of the filesystem holding each directory the service fills.",
            labels=["path"],
        )
        for label, path in watched_paths(self._monitor.ctx).items():
            ratio = disk_figures(path)["free_ratio"]
            if ratio is not None:
                gauge.add_metric([label], ratio)
        yield gauge


def snapshot_gauges(snapshot: Snapshot) -> Iterator[GaugeMetricFamily]:
    """The gauges a snapshot of check results stands for; no I/O, so alerts can be unit-tested."""
    report = snapshot.report
    status = GaugeMetricFamily(
        "cv_evaluator_maint_check_status",
        "Latest status of each maintenance check: 0 OK, 1 WARN, 2 CRITICAL, 3 UNKNOWN "
        "(skipped checks are absent).",
        labels=["check", "group"],
    )
    for result in report.results:
        if result.status is not Status.SKIPPED:
            status.add_metric([result.check, result.group], result.status.exit_code)
    yield status
    yield GaugeMetricFamily(
        "cv_evaluator_maint_checks_timestamp_seconds",
        "When the check results behind these gauges were taken (Unix time).",
        value=snapshot.taken_at.timestamp(),
    )
    success = GaugeMetricFamily(
        "cv_evaluator_maint_last_success_timestamp_seconds",
        "When each maintenance schedule last finished successfully (Unix time).",
        labels=["schedule"],
    )
    for schedule, when in snapshot.last_success.items():
        success.add_metric([schedule], when.timestamp())
    yield success
    yield from _figures(report)
    yield from _days_until_full(report)


# (metric, help, check, key of the check's details); where two checks feed one metric (the
# database size on PostgreSQL or SQLite) the first that ran wins.
_FIGURES = (
    ("cv_evaluator_queue_depth", "Jobs waiting to be claimed.", "queue.depth", "depth"),
    (
        "cv_evaluator_queue_oldest_age_seconds",
        "How long the oldest due queued job has been waiting.",
        "queue.oldest",
        "oldest_age_seconds",
    ),
    (
        "cv_evaluator_queue_lag_messages",
        "Kafka consumer group lag over every partition of the jobs topic.",
        "kafka.consumer_lag",
        "total_lag",
    ),
    (
        "cv_evaluator_oldest_unfinished_job_age_seconds",
        "Age of the oldest job not yet completed or failed (the lag users feel).",
        "cross.unfinished_lag",
        "age_seconds",
    ),
    (
        "cv_evaluator_jobs_expired_lease",
        "Jobs still 'processing' whose lease expired: their worker is gone or stalled.",
        "cross.processing_vs_consumer",
        "expired_leases",
    ),
    (
        "cv_evaluator_database_size_bytes",
        "Size of the database.",
        "postgres.database_size",
        "database_bytes",
    ),
    (
        "cv_evaluator_database_size_bytes",
        "Size of the database.",
        "sqlite.files",
        "database_bytes",
    ),
    (
        "cv_evaluator_backup_newest_verified_age_seconds",
        "Age of the newest backup whose restore verification passed.",
        "backup.age",
        "newest_verified_age_seconds",
    ),
    (
        "cv_evaluator_database_connections",
        "Connections open on the PostgreSQL server.",
        "postgres.connections",
        "in_use",
    ),
    (
        "cv_evaluator_database_max_connections",
        "The PostgreSQL server's max_connections.",
        "postgres.connections",
        "max",
    ),
)


def _figures(report: CheckReport) -> Iterator[GaugeMetricFamily]:
    seen: set[str] = set()
    for name, help_text, check, key in _FIGURES:
        value = _number(report, check, key)
        if value is None or name in seen:
            continue
        seen.add(name)
        yield GaugeMetricFamily(name, help_text, value=value)


def _days_until_full(report: CheckReport) -> Iterator[GaugeMetricFamily]:
    result = _result(report, "service.disk")
    if result is None:
        return
    gauge = GaugeMetricFamily(
        "cv_evaluator_disk_days_until_full",
        "Days until the filesystem holding each directory fills at its current rate "
        "(service.disk's forecast); absent while it is not filling or history is too short.",
        labels=["path"],
    )
    filesystems = result.details.get("filesystems")
    for filesystem in filesystems if isinstance(filesystems, list) else []:
        days = filesystem.get("forecast", {}).get("days_until_full")
        if not isinstance(days, int | float):
            continue
        # Paths sharing a filesystem share its forecast: each gets it, as each gets its ratio.
        for label in filesystem.get("labels", []):
            gauge.add_metric([str(label)], float(days))
    yield gauge
