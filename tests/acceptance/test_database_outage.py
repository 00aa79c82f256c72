"""PostgreSQL goes away mid-run: requests fail fast with 503, and everything completes after."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.postgres import PostgresServer
from tests.support.processes import CliProcess, ServeProcess, sigterm_and_wait, wait_until


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    # Its own server: stopping the shared one would break every other test's database.
    server = PostgresServer()
    server.start()
    server.build_template()
    yield server
    server.stop()


def test_requests_fail_fast_during_an_outage_and_work_resumes(
    own_postgres: PostgresServer, spawn: Callable[..., CliProcess], tmp_path: object
) -> None:
    env = {
        "DATA_DIR": f"{tmp_path}/data",
        "DB_URL": own_postgres.new_database(),
        "APP_WORKERS": "1",
        "JOB_LEASE_SECONDS": "3",
        "WORKER_POLL_INTERVAL_SECONDS": "0.2",
        "DB_POOL_TIMEOUT_SECONDS": "2",
    }
    serve = spawn("serve", env)
    assert isinstance(serve, ServeProcess)
    serve.wait_healthy()
    base = serve.base_url
    files = {
        "cv": ("cv.txt", SAMPLE_CV_TEXT.encode()),
        "project": ("p.txt", SAMPLE_PROJECT_TEXT.encode()),
    }
    ids = httpx.post(f"{base}/v1/upload", files=files, timeout=30).json()
    before = [
        httpx.post(f"{base}/v1/evaluate", json=ids, timeout=30).json()["id"] for _ in range(10)
    ]

    own_postgres.pause()
    started = time.monotonic()
    refused = httpx.post(f"{base}/v1/evaluate", json=ids, timeout=30)
    assert time.monotonic() - started < 10, "the request hung instead of failing fast"
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "UNAVAILABLE"
    assert refused.headers["retry-after"]
    assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
    assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200

    own_postgres.resume()
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=30).status_code == 200, 30, "readiness")
    after = [httpx.post(f"{base}/v1/evaluate", json=ids, timeout=30).json()["id"] for _ in range(5)]
    for job_id in before + after:
        wait_until(
            lambda j=job_id: (
                httpx.get(f"{base}/v1/result/{j}", timeout=30).json()["status"] == "completed"
            ),  # type: ignore[misc]
            60,
            f"{job_id} to complete",
        )
    log = serve.log()
    assert "unhandled error" not in log, "a request answered 500 during the outage"
    assert " 500" not in log
    assert sigterm_and_wait(serve, 30) == 0
