"""The real processes: serve and worker, driven over HTTP and signals."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from cv_evaluator.storage.engine import make_sync_engine
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT, make_docx, make_pdf
from tests.support.processes import CliProcess, ServeProcess, sigterm_and_wait, wait_until

Spawn = Callable[..., CliProcess]


def upload(base_url: str, cv: tuple[str, bytes], project: tuple[str, bytes]) -> dict[str, str]:
    response = httpx.post(f"{base_url}/v1/upload", files={"cv": cv, "project": project}, timeout=30)
    assert response.status_code == 200, response.text
    ids: dict[str, str] = response.json()
    return ids


def evaluate(base_url: str, ids: dict[str, str]) -> str:
    response = httpx.post(f"{base_url}/v1/evaluate", json=ids, timeout=30)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["id"]
    return job_id


def status_of(base_url: str, job_id: str) -> str:
    status: str = httpx.get(f"{base_url}/v1/result/{job_id}", timeout=10).json()["status"]
    return status


def wait_for_status(base_url: str, job_id: str, status: str, timeout: float) -> None:
    wait_until(lambda: status_of(base_url, job_id) == status, timeout, f"{job_id} to be {status}")


def db_rows(env: dict[str, str], sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = make_sync_engine(env["DB_URL"])
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def serve_with_sample(spawn: Spawn, env: dict[str, str]) -> tuple[ServeProcess, dict[str, str]]:
    """A healthy ``serve`` process and the ids of the sample CV and report uploaded to it."""
    serve = spawn("serve", env)
    assert isinstance(serve, ServeProcess)
    serve.wait_healthy()
    sample = (("cv.txt", SAMPLE_CV_TEXT.encode()), ("p.txt", SAMPLE_PROJECT_TEXT.encode()))
    return serve, upload(serve.base_url, *sample)


def test_serve_evaluates_pdf_docx_and_txt(migrated: dict[str, str], spawn: Spawn) -> None:
    serve = spawn("serve", migrated)
    assert isinstance(serve, ServeProcess)
    serve.wait_healthy()
    paragraphs = SAMPLE_CV_TEXT.split("\n\n")
    cases = [
        (
            ("cv.pdf", make_pdf(paragraphs)),
            ("project.docx", make_docx(SAMPLE_PROJECT_TEXT.split("\n\n"))),
        ),
        (
            ("cv.docx", make_docx(paragraphs)),
            ("project.pdf", make_pdf(SAMPLE_PROJECT_TEXT.split("\n\n"))),
        ),
        (("cv.txt", SAMPLE_CV_TEXT.encode()), ("project.md", SAMPLE_PROJECT_TEXT.encode())),
    ]
    job_ids = [
        evaluate(serve.base_url, upload(serve.base_url, cv, project)) for cv, project in cases
    ]
    for job_id in job_ids:
        wait_for_status(serve.base_url, job_id, "completed", 30)
    results = [httpx.get(f"{serve.base_url}/v1/result/{j}").json()["result"] for j in job_ids]
    for result in results:
        assert 0 < result["cv_match_rate"] <= 1 and result["receipt"]["evaluator"]
    # The same CV text in three formats is judged the same.
    assert len({round(r["cv_match_rate"], 2) for r in results}) == 1
    assert sigterm_and_wait(serve, 30) == 0


def test_sigterm_drains_gracefully_and_nothing_is_lost(
    migrated: dict[str, str], spawn: Spawn
) -> None:
    serve, ids = serve_with_sample(spawn, {**migrated, "APP_WORKERS": "1"})
    job_ids = [evaluate(serve.base_url, ids) for _ in range(20)]
    assert sigterm_and_wait(serve, 60) == 0
    assert "Traceback" not in serve.log()
    # Nothing is left claimed by the stopped process: every job is finished or back in the queue.
    statuses = dict(db_rows(migrated, "SELECT id, status FROM jobs"))
    assert set(statuses.values()) <= {"completed", "queued"}
    assert not db_rows(migrated, "SELECT id FROM jobs WHERE lease_owner IS NOT NULL")
    # A new process finishes the rest.
    restarted = spawn("serve", migrated)
    assert isinstance(restarted, ServeProcess)
    restarted.wait_healthy()
    for job_id in job_ids:
        wait_for_status(restarted.base_url, job_id, "completed", 30)
    assert db_rows(migrated, "SELECT COUNT(*) FROM results") == [(20,)]


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(
    migrated: dict[str, str], spawn: Spawn
) -> None:
    api, ids = serve_with_sample(spawn, {**migrated, "APP_WORKERS": "0"})
    env = {**migrated, "JOB_LEASE_SECONDS": "2"}
    job_ids = [evaluate(api.base_url, ids) for _ in range(40)]
    worker = spawn("worker", env, "--concurrency", "2")
    wait_until(
        lambda: db_rows(migrated, "SELECT COUNT(*) FROM results")[0][0] >= 3, 30, "first results"
    )
    worker.signal(signal.SIGKILL)
    worker.wait(10)
    spawn("worker", env, "--concurrency", "2")
    for job_id in job_ids:
        wait_for_status(api.base_url, job_id, "completed", 60)
    assert db_rows(migrated, "SELECT COUNT(*), COUNT(DISTINCT job_id) FROM results") == [(40, 40)]


def test_a_job_left_mid_work_by_a_dead_worker_completes_exactly_once(
    migrated: dict[str, str], spawn: Spawn
) -> None:
    api, ids = serve_with_sample(spawn, {**migrated, "APP_WORKERS": "0"})
    job_id = evaluate(api.base_url, ids)
    # Exactly what a worker killed mid-job leaves behind: a claimed row whose lease runs out.
    now = datetime.now(UTC).replace(tzinfo=None)
    db_rows(
        migrated,
        "UPDATE jobs SET status='processing', attempts=1, lease_owner='killed-worker', "
        "lease_expires_at=:until WHERE id=:id",
        until=now + timedelta(seconds=1),
        id=job_id,
    )
    assert status_of(api.base_url, job_id) == "processing"
    spawn("worker", migrated, "--concurrency", "1")
    wait_until(lambda: status_of(api.base_url, job_id) == "completed", 30, "the reclaimed job")
    result = httpx.get(f"{api.base_url}/v1/result/{job_id}").json()
    assert result["attempts"] == 2
    assert db_rows(migrated, "SELECT COUNT(*) FROM results WHERE job_id=:id", id=job_id) == [(1,)]


def test_cli_evaluate_prints_a_table_and_json(tmp_path: Path, service_env: dict[str, str]) -> None:
    import json
    import os
    import subprocess

    from tests.support.processes import CLI

    cv = tmp_path / "cv.pdf"
    cv.write_bytes(make_pdf(SAMPLE_CV_TEXT.split("\n\n")))
    project = tmp_path / "project.md"
    project.write_text(SAMPLE_PROJECT_TEXT)
    env = {**os.environ, **service_env}
    table = subprocess.run(
        [CLI, "evaluate", str(cv), str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "CV match rate" in table.stdout and "Breakdown" in table.stdout
    as_json = subprocess.run(
        [CLI, "evaluate", str(cv), str(project), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(as_json.stdout)
    assert f"{result['cv_match_rate']:.3f}" in table.stdout
    assert f"{result['project_score']:.2f}/10" in table.stdout
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    refused = subprocess.run(
        [CLI, "evaluate", str(bad), str(project)], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "NO_EXTRACTABLE_TEXT" in refused.stderr


def test_config_show_masks_secrets(service_env: dict[str, str]) -> None:
    import os
    import subprocess

    from tests.support.processes import CLI

    env = {**os.environ, **service_env, "DB_URL": "postgresql://app:hunter2@db:5432/app"}
    shown = subprocess.run(
        [CLI, "config", "show", "--json"], env=env, capture_output=True, text=True, check=True
    )
    assert "hunter2" not in shown.stdout
    assert '"DB_URL": "postgresql://app:***@db:5432/app"' in shown.stdout


def test_several_worker_processes_never_claim_a_job_twice(
    migrated: dict[str, str], spawn: Spawn
) -> None:
    api, ids = serve_with_sample(spawn, {**migrated, "APP_WORKERS": "0"})
    for _ in range(3):
        spawn("worker", migrated, "--concurrency", "2")
    job_ids = [evaluate(api.base_url, ids) for _ in range(60)]
    for job_id in job_ids:
        wait_for_status(api.base_url, job_id, "completed", 60)
    assert db_rows(migrated, "SELECT COUNT(*), COUNT(DISTINCT job_id) FROM results") == [(60, 60)]
    # Exactly one attempt each: no job was ever taken by two workers.
    assert db_rows(migrated, "SELECT COUNT(*) FROM jobs WHERE attempts <> 1") == [(0,)]
    workers = {_worker_of(row[0]) for row in db_rows(migrated, "SELECT document FROM results")}
    assert len(workers) >= 2, "the work was not shared between processes"


def _worker_of(document: Any) -> str:
    import json

    parsed = json.loads(document) if isinstance(document, str) else document
    worker: str = parsed["receipt"]["attempts"][0]["worker"]
    return worker.split(":")[1]  # host:pid:slot:suffix → the process id
