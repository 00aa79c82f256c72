"""A real Prometheus scrapes a real ``cv-evaluator serve`` and fires the service's alert rules.

Prometheus comes from Debian's `prometheus` package (scripts/ensure-test-services installs it);
without it this test fails, it never skips. `for:` durations of minutes cannot elapse in a test,
so Prometheus loads a copy of deploy/prometheus/alerts.yml in which only they are shortened.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cv_evaluator.storage.engine import make_async_engine
from tests.support.processes import CliProcess, ServeProcess, free_port, wait_until
from tests.support.seeding import SeedPlan, seed_jobs

Spawn = Callable[..., CliProcess]

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
JOB = "cv-evaluator-api"  # a scrape job name the rules read the job counters from
STUCK = "CvEvaluatorJobsStuckProcessing"
CHECK_CRITICAL = "CvEvaluatorMaintenanceCheckCritical"
OLDEST_QUEUED = "CvEvaluatorOldestQueuedJobTooOld"
DEADLINE = 60.0


def _rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in document["groups"] for rule in group["rules"]]


def shortened_rules(source: Path) -> str:
    """The rule file with every `for:` set to 1 s; anything else changed would fail here."""
    original = yaml.safe_load(source.read_text())
    shortened = yaml.safe_load(source.read_text())
    for rule in _rules(shortened):
        if "for" in rule:
            rule["for"] = "1s"
    text = yaml.safe_dump(shortened, sort_keys=False)
    reloaded = yaml.safe_load(text)
    pairs = list(zip(_rules(original), _rules(reloaded), strict=True))
    assert any(before.get("for") not in (None, "1s") for before, _ in pairs)
    for before, after in pairs:
        assert after.get("for") in (None, "1s")
        assert {k: v for k, v in after.items() if k != "for"} == {
            k: v for k, v in before.items() if k != "for"
        }, f"only for: may differ in the copy of {before.get('alert') or before.get('record')}"
    return text


class PrometheusServer:
    """A throwaway Prometheus on a free port with storage in a temporary directory."""

    def __init__(self, directory: Path, config: str, rules: str) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail(
                "prometheus is missing: run scripts/ensure-test-services "
                "(Debian package 'prometheus')",
                pytrace=False,
            )
        (directory / "prometheus.yml").write_text(config)
        (directory / "alerts.yml").write_text(rules)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "prometheus.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            cwd=directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited early:\n{self.log()}")
            try:
                return httpx.get(f"{self.base_url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, "Prometheus to be ready", interval=0.2)

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/api/v1/query", params={"query": promql}, timeout=5)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/api/v1/alerts", timeout=5)
        assert response.status_code == 200, response.text
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        return alerts

    def firing(self, name: str) -> list[dict[str, Any]]:
        return [
            a for a in self.alerts() if a["labels"]["alertname"] == name and a["state"] == "firing"
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def answered(condition: Callable[[], bool]) -> Callable[[], bool]:
    """A condition polled over HTTP: a slow answer on a busy machine means "not yet"."""

    def check() -> bool:
        try:
            return condition()
        except httpx.HTTPError:
            return False

    return check


def _seed_stuck_job(db_url: str) -> None:
    """One job `processing` for an hour whose lease ran out long ago: its worker is gone."""

    async def seed() -> None:
        engine = make_async_engine(db_url)
        try:
            plan = SeedPlan(
                jobs=1, oldest=timedelta(hours=1), completed=0.0, failed=0.0, processing=1.0
            )
            seeded = await seed_jobs(engine, plan)
            assert seeded.by_status["processing"] == 1
        finally:
            await engine.dispose()

    asyncio.run(seed())


def test_prometheus_fires_the_stuck_jobs_alert_from_a_live_service(
    tmp_path: Path, spawn: Spawn
) -> None:
    data_dir = tmp_path / "data"
    db_url = f"sqlite:///{(data_dir / 'app.db').as_posix()}"
    env = {
        "DATA_DIR": str(data_dir),
        "DB_URL": db_url,
        "LOG_FORMAT": "json",
        # No worker in this process: nothing may reclaim the stuck job behind the alert's back.
        "APP_WORKERS": "0",
        "MAINT_MONITOR_INTERVAL_SECONDS": "0.5",
        "MAINT_MONITOR_CHECKS": "queue.*,cross.*",
    }
    serve = spawn("serve", env)
    assert isinstance(serve, ServeProcess)
    serve.wait_healthy()

    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{serve.port}"]}]}
        ],
    }
    prometheus_dir = tmp_path / "prometheus"
    prometheus_dir.mkdir()
    prometheus = PrometheusServer(prometheus_dir, yaml.safe_dump(config), shortened_rules(ALERTS))
    try:
        prometheus.wait_ready()
        wait_until(
            answered(lambda: prometheus.value(f'up{{job="{JOB}"}}') == 1.0),
            DEADLINE,
            "Prometheus to scrape the service (up == 1)",
            interval=0.5,
        )
        # Healthy first: the gauge behind the alert is scraped and reads 0.
        wait_until(
            answered(lambda: prometheus.value("cv_evaluator_jobs_expired_lease") == 0.0),
            DEADLINE,
            "the expired-lease gauge to be scraped",
            interval=0.5,
        )
        assert prometheus.firing(STUCK) == []

        _seed_stuck_job(db_url)

        wait_until(
            answered(lambda: bool(prometheus.firing(STUCK))),
            DEADLINE,
            f"{STUCK} to fire",
            interval=0.5,
        )
        (alert,) = prometheus.firing(STUCK)
        assert alert["labels"] == {"alertname": STUCK, "job": JOB, "severity": "critical"}
        assert float(alert["value"]) == 1.0
        assert alert["annotations"]["runbook"] == (
            "docs/operations.md#alert-cvevaluatorjobsstuckprocessing"
        )
        assert alert["annotations"]["description"].startswith("1 job(s) are still marked")

        # The same job makes queue.expired_leases CRITICAL (its lease is an hour overdue).
        wait_until(
            answered(
                lambda: any(
                    a["labels"].get("check") == "queue.expired_leases"
                    for a in prometheus.firing(CHECK_CRITICAL)
                )
            ),
            DEADLINE,
            f"{CHECK_CRITICAL} for queue.expired_leases",
            interval=0.5,
        )

        # The oldest-queued alert had its inputs (nothing queued; an old unfinished job) and
        # stays silent: a processing job is not a waiting one on the database queue.
        assert prometheus.value("cv_evaluator_queue_oldest_age_seconds") == 0.0
        unfinished = prometheus.value("cv_evaluator_oldest_unfinished_job_age_seconds")
        assert unfinished is not None and unfinished > 1800
        assert not [a for a in prometheus.alerts() if a["labels"]["alertname"] == OLDEST_QUEUED]
    except AssertionError:
        print(f"prometheus log:\n{prometheus.log()}\nserve log:\n{serve.log()[-4000:]}")
        raise
    finally:
        prometheus.stop()
