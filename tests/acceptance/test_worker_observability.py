"""Real `serve` and `worker` processes: a worker's own /metrics, and logs without personal data."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.test_service_process import evaluate, serve_with_sample, wait_for_status
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.processes import (
    CLI,
    CliProcess,
    free_port,
    sigterm_and_wait,
    wait_until,
)

Spawn = Callable[..., CliProcess]

EMAIL = "jane.doe.4711@example.org"
SENTENCE = "Jane once rebuilt the lighthouse ledger of Vardø by hand during a winter storm."
FILE_NAME = "jane-doe-4711-curriculum.txt"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def worker_health(port: int) -> str | None:
    try:
        status: str = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"]
        return status
    except httpx.HTTPError:
        return None


def test_a_worker_serves_its_own_metrics(migrated: dict[str, str], spawn: Spawn) -> None:
    api, ids = serve_with_sample(spawn, {**migrated, "APP_WORKERS": "0"})
    port = free_port()
    env = {
        **migrated,
        "APP_HOST": "127.0.0.1",
        "APP_METRICS_PORT": str(port),
        "APP_GIT_REVISION": REVISION,
        "AI_LOCAL_PROCESSES": "0",
    }
    worker = spawn("worker", env, "--concurrency", "1")
    wait_until(lambda: worker_health(port) == "ok", 60, "the worker's /healthz to say ok")

    # A second worker on the same port refuses to start, before it takes any work.
    clash = subprocess.run(
        [CLI, "worker", "--no-migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clash.returncode == 2, clash.stdout + clash.stderr
    refusal = json.loads(clash.stdout.strip().splitlines()[-1])
    assert refusal["code"] == "UNAVAILABLE" and refusal["event"] == "worker_start_failed"
    assert f"{port} (APP_METRICS_PORT)" in refusal["message"]

    job_id = evaluate(api.base_url, ids)
    wait_for_status(api.base_url, job_id, "completed", 60)
    scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert scrape.status_code == 200
    samples = metric_samples(scrape.text)
    assert samples[("jobs_completed_total", ())] == 1.0
    assert samples[("jobs_processing", ())] == 0.0
    assert samples[("evaluation_cv_match_rate_count", ())] == 1.0
    build = [key for key in samples if key[0] == "cv_evaluator_build_info"]
    assert len(build) == 1 and dict(build[0][1])["revision"] == REVISION
    # What only the API counts is not shown by a worker at all.
    assert not any(name.startswith(("http_", "jobs_enqueued")) for name, _ in samples)
    # The API process counted the request, not the job.
    api_samples = metric_samples(httpx.get(f"{api.base_url}/metrics", timeout=5).text)
    assert api_samples[("jobs_enqueued_total", ())] == 1.0
    assert api_samples[("jobs_completed_total", ())] == 0.0

    assert sigterm_and_wait(worker, 60) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


class SplitOutputProcess:
    """A `cv-evaluator` subprocess with standard output and standard error kept apart."""

    def __init__(self, args: list[str], env: dict[str, str], directory: Path, name: str) -> None:
        self.stdout_path = directory / f"{name}.stdout"
        self.stderr_path = directory / f"{name}.stderr"
        self._files: list[IO[bytes]] = [self.stdout_path.open("wb"), self.stderr_path.open("wb")]
        self.process = subprocess.Popen(
            [CLI, *args], env={**os.environ, **env}, stdout=self._files[0], stderr=self._files[1]
        )

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            for file in self._files:
                file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for file in self._files:
            file.close()

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )


@pytest.fixture
def split_processes() -> Iterator[list[SplitOutputProcess]]:
    started: list[SplitOutputProcess] = []
    yield started
    for process in started:
        process.kill()


def log_texts(log_dir: Path, processes: list[SplitOutputProcess]) -> dict[str, str]:
    """Every place a log line can land: each stream of each process, every (rotated) file."""
    texts: dict[str, str] = {}
    for process in processes:
        texts[str(process.stdout_path)] = process.stdout_path.read_text(errors="replace")
        texts[str(process.stderr_path)] = process.stderr_path.read_text(errors="replace")
    for path in sorted(log_dir.iterdir()):
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as packed:
                texts[str(path)] = packed.read()
        else:
            texts[str(path)] = path.read_text(errors="replace")
    return texts


def test_logs_are_json_lines_without_personal_data_and_follow_the_request(
    migrated: dict[str, str], tmp_path: Path, split_processes: list[SplitOutputProcess]
) -> None:
    log_dir = tmp_path / "logs"
    env = {
        **migrated,
        "LOG_DIR": str(log_dir),
        # Small files, so rotation into compressed files happens within the test.
        "LOG_FILE_MAX_MB": "0.004",
        "LOG_FILE_BACKUPS": "50",
    }
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve = SplitOutputProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0"],
        env,
        tmp_path,
        "serve",
    )
    split_processes.append(serve)
    worker = SplitOutputProcess(["worker", "--concurrency", "1"], env, tmp_path, "worker")
    split_processes.append(worker)

    def healthy() -> bool:
        for process in (serve, worker):
            if process.process.poll() is not None:
                raise AssertionError(f"a process exited early:\n{process.output()}")
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 60, "the API to answer")
    cv = f"{SAMPLE_CV_TEXT}\nContact: {EMAIL}\n\n{SENTENCE}\n"
    uploaded = httpx.post(
        f"{base_url}/v1/upload",
        files={"cv": (FILE_NAME, cv.encode()), "project": ("p.md", SAMPLE_PROJECT_TEXT.encode())},
        timeout=30,
    )
    assert uploaded.status_code == 200, uploaded.text
    submitted = httpx.post(f"{base_url}/v1/evaluate", json=uploaded.json(), timeout=30)
    assert submitted.status_code == 200, submitted.text
    request_id = submitted.headers["x-request-id"]
    job_id = submitted.json()["id"]
    wait_for_status(base_url, job_id, "completed", 90)
    result = httpx.get(f"{base_url}/v1/result/{job_id}", timeout=10).json()
    # The result itself may quote the CV; that is what the database and the API are for.
    assert result["status"] == "completed"
    assert worker.stop() == 0 and serve.stop() == 0

    texts = log_texts(log_dir, split_processes)
    assert any(name.endswith(".gz") for name in texts), "no log file was rotated"
    entries: list[dict[str, Any]] = []
    for source, text in texts.items():
        for secret in (EMAIL, SENTENCE, FILE_NAME, "lighthouse ledger"):
            assert secret not in text, f"{secret!r} is in {source}"
        for line in text.splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)  # every line of every stream and file is JSON
            assert {"timestamp", "level", "logger", "event", "message"} <= entry.keys(), line
            entries.append(entry)
    stderr_lines = [
        line
        for process in split_processes
        for line in process.stderr_path.read_text().splitlines()
        if line.strip()
    ]
    assert not stderr_lines, "logs belong on standard output"

    access = [
        e
        for e in entries
        if e["event"] == "http_request" and e["route"] == "/v1/evaluate" and e["method"] == "POST"
    ]
    assert access, "no access line for POST /v1/evaluate"
    assert access[0]["request_id"] == request_id
    assert access[0]["status"] == 200 and access[0]["path"] == "/v1/evaluate"
    assert isinstance(access[0]["duration_ms"], int | float)
    job_lines = [e for e in entries if e.get("job_id") == job_id]
    assert {"job_started", "job_completed"} <= {e["event"] for e in job_lines}
    assert all(e["request_id"] == request_id for e in job_lines)
    assert all(e["logger"].startswith("cv_evaluator.worker") for e in job_lines)
