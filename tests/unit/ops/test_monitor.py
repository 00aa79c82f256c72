"""The gauges behind the alert rules, computed from a snapshot of check results."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cv_evaluator.ops.model import CheckReport, CheckResult, Status
from cv_evaluator.ops.monitor import Snapshot, snapshot_gauges

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _result(
    check: str, details: Mapping[str, Any], status: Status = Status.OK, group: str = ""
) -> CheckResult:
    return CheckResult(
        check=check,
        group=group or check.split(".", 1)[0],
        status=status,
        summary="",
        details=details,
        thresholds=(),
        checked_at=T0,
        duration_ms=1.0,
    )


def _snapshot(
    *results: CheckResult, last_success: Mapping[str, datetime] | None = None
) -> Snapshot:
    return Snapshot(CheckReport(results, T0, 5.0), dict(last_success or {}), T0)


def _samples(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in snapshot_gauges(snapshot):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _filesystem(labels: list[str], days: float | None) -> dict[str, Any]:
    return {
        "labels": labels,
        "forecast": {"samples": 3, "span_hours": 30.0, "days_until_full": days, "reason": None},
    }


def test_expired_leases_become_the_stuck_jobs_gauge() -> None:
    snapshot = _snapshot(
        _result(
            "cross.processing_vs_consumer",
            {"processing": 4, "expired_leases": 3, "live_leases": 1},
            Status.WARN,
        )
    )
    assert _samples(snapshot)[("cv_evaluator_jobs_expired_lease", ())] == 3.0


def test_no_processing_job_reads_zero_not_absent() -> None:
    # An alert on "> 0 for 10m" must see the all-clear, or it would keep its last value.
    snapshot = _snapshot(
        _result("cross.processing_vs_consumer", {"processing": 0, "expired_leases": 0})
    )
    assert _samples(snapshot)[("cv_evaluator_jobs_expired_lease", ())] == 0.0


def test_a_skipped_check_exports_no_figure() -> None:
    snapshot = _snapshot(
        _result("cross.processing_vs_consumer", {"expired_leases": 2}, Status.SKIPPED)
    )
    names = {name for name, _labels in _samples(snapshot)}
    assert "cv_evaluator_jobs_expired_lease" not in names


def test_disk_forecast_is_exported_per_watched_path() -> None:
    snapshot = _snapshot(
        _result(
            "service.disk",
            {
                "filesystems": [
                    _filesystem(["data", "logs"], 0.75),
                    _filesystem(["backups"], 12.5),
                ]
            },
            Status.CRITICAL,
        )
    )
    samples = _samples(snapshot)
    days = {
        dict(labels)["path"]: value
        for (name, labels), value in samples.items()
        if name == "cv_evaluator_disk_days_until_full"
    }
    assert days == {"data": 0.75, "logs": 0.75, "backups": 12.5}


def test_a_filesystem_without_forecast_has_no_days_until_full() -> None:
    snapshot = _snapshot(
        _result(
            "service.disk",
            {"filesystems": [_filesystem(["data"], None), _filesystem(["backups"], 3.0)]},
        )
    )
    days = {
        dict(labels)["path"]
        for (name, labels), _value in _samples(snapshot).items()
        if name == "cv_evaluator_disk_days_until_full"
    }
    assert days == {"backups"}


def test_check_status_and_schedule_successes() -> None:
    daily = T0 - timedelta(hours=3)
    snapshot = _snapshot(
        _result("backup.age", {"newest_verified_age_seconds": 7200.0}, Status.CRITICAL),
        _result("queue.oldest", {"oldest_age_seconds": 42.0}),
        _result("kafka.consumer_lag", {"total_lag": 9}, Status.SKIPPED),
        last_success={"daily": daily},
    )
    samples = _samples(snapshot)
    status = (("check", "backup.age"), ("group", "backup"))
    assert samples[("cv_evaluator_maint_check_status", status)] == 2.0
    assert samples[("cv_evaluator_backup_newest_verified_age_seconds", ())] == 7200.0
    assert samples[("cv_evaluator_queue_oldest_age_seconds", ())] == 42.0
    assert (
        samples[("cv_evaluator_maint_last_success_timestamp_seconds", (("schedule", "daily"),))]
        == daily.timestamp()
    )
    assert samples[("cv_evaluator_maint_checks_timestamp_seconds", ())] == T0.timestamp()
    names = {name for name, _labels in samples}
    assert "cv_evaluator_queue_lag_messages" not in names
    assert not any(("check", "kafka.consumer_lag") in labels for _n, labels in samples)


class _Fixed(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from snapshot_gauges(self._snapshot)


def test_every_gauge_renders_once_in_the_exposition_format() -> None:
    # The database size comes from either engine's check; a metric named twice would break
    # the whole scrape, so only the first is exported.
    snapshot = _snapshot(
        _result("sqlite.files", {"database_bytes": 1000}),
        _result("postgres.database_size", {"database_bytes": 2000}, group="postgresql"),
        _result("service.disk", {"filesystems": [_filesystem(["data"], 1.5)]}),
        _result("cross.processing_vs_consumer", {"expired_leases": 1}),
    )
    registry = CollectorRegistry()
    registry.register(_Fixed(snapshot))
    text = generate_latest(registry).decode()
    assert text.count("# TYPE cv_evaluator_database_size_bytes gauge") == 1
    assert "cv_evaluator_database_size_bytes 2000.0" in text
    assert 'cv_evaluator_disk_days_until_full{path="data"} 1.5' in text
    assert "cv_evaluator_jobs_expired_lease 1.0" in text
