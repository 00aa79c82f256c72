"""Maintenance windows and recovery drills against a live `serve`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.test_service_process import (
    db_rows,
    evaluate,
    serve_with_sample,
    status_of,
)
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.processes import CLI, CliProcess, wait_until

Spawn = Callable[..., CliProcess]

# A small schedule keeps the window about the window (no pip-audit of the environment).
SCHEDULES = """
[weekly]
every_days = 7
description = "window under test"
tasks = ["analyze", "log_cleanup"]
checks = ["service.healthz", "service.readyz", "queue.*"]
"""


def _env(migrated: dict[str, str], tmp_path: Path, **more: str) -> dict[str, str]:
    schedules = tmp_path / "schedules.toml"
    schedules.write_text(SCHEDULES)
    return {
        **migrated,
        "APP_WORKERS": "2",
        "MAINT_SCHEDULES_FILE": str(schedules),
        "MAINT_BACKUP_DIR": str(tmp_path / "backups"),
        "MAINT_WINDOW_MONITOR_INTERVAL_SECONDS": "1",
        # Response times on a busy test machine say nothing about the window.
        "MAINT_HTTP_WARN_MS": "30000",
        **more,
    }


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [CLI, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Watcher(threading.Thread):
    """Tries to upload and reads a finished result, again and again, while the window runs."""

    def __init__(self, base_url: str, finished_job: str) -> None:
        super().__init__(daemon=True)
        self._base_url = base_url
        self._finished_job = finished_job
        self.stop = threading.Event()
        self.uploads: list[tuple[int, str | None, str | None]] = []
        self.reads: list[int] = []

    def run(self) -> None:
        files = {"cv": ("cv.txt", b"Jane Tester\nPython"), "project": ("p.txt", b"A report")}
        with httpx.Client(base_url=self._base_url, timeout=10) as client:
            while not self.stop.is_set():
                response = client.post("/v1/upload", files=files)
                code = response.json().get("error", {}).get("code") if response.is_error else None
                self.uploads.append(
                    (response.status_code, code, response.headers.get("retry-after"))
                )
                self.reads.append(client.get(f"/v1/result/{self._finished_job}").status_code)
                time.sleep(0.1)


def test_a_window_closes_the_live_service_verifies_it_and_reopens_it(
    spawn: Spawn, migrated: dict[str, str], tmp_path: Path
) -> None:
    env = _env(migrated, tmp_path)
    serve, ids = serve_with_sample(spawn, env)
    env["MAINT_BASE_URL"] = serve.base_url
    finished = evaluate(serve.base_url, ids)
    wait_until(lambda: status_of(serve.base_url, finished) == "completed", 60, "the first job")

    before = _cli(env, "maint", "checklist", "pre", "--json")
    pre = {i["item"]: i["status"] for i in json.loads(before.stdout)}
    assert pre["The service answers /healthz and /readyz"] == "done"
    assert pre["No other maintenance is under way"] == "done"
    assert pre["Users were notified of the window"] == "warn"
    assert before.returncode == 2  # no verified backup yet: the pre-flight will take one

    announced = _cli(
        env,
        "maint",
        "notify",
        "--schedule",
        "weekly",
        "--start",
        "2026-12-06T03:00Z",
        "--end",
        "2026-12-06T04:00Z",
    )
    assert announced.returncode == 0, announced.stderr
    notified = json.loads(_cli(env, "maint", "checklist", "pre", "--json").stdout)
    assert {i["item"]: i["status"] for i in notified}["Users were notified of the window"] == "done"

    # Work in progress when the window starts: it must finish, not be lost.
    big_cv = (SAMPLE_CV_TEXT * 20).encode()
    heavy = httpx.post(
        f"{serve.base_url}/v1/upload",
        files={"cv": ("cv.txt", big_cv), "project": ("p.txt", SAMPLE_PROJECT_TEXT.encode())},
        timeout=30,
    ).json()
    backlog = [evaluate(serve.base_url, heavy) for _ in range(12)]

    watcher = Watcher(serve.base_url, finished)
    watcher.start()
    report_path = tmp_path / "window.json"
    try:
        window = _cli(
            env,
            "maint",
            "window",
            "run",
            "weekly",
            "--monitor-minutes",
            "2",
            "--format",
            "json",
            "-o",
            str(report_path),
            timeout=240,
        )
    finally:
        watcher.stop.set()
        watcher.join(15)
    report: dict[str, Any] = json.loads(report_path.read_text())
    assert window.returncode == 0, (report["issues"], window.stderr[-3000:])

    # During the window new work was refused with the stable code and a Retry-After…
    refused = [u for u in watcher.uploads if u[0] == 503]
    assert refused, watcher.uploads
    assert {code for _, code, _ in refused} == {"MAINTENANCE"}
    assert all(retry is not None and int(retry) > 0 for _, _, retry in refused)
    # …results stayed readable throughout, and uploads were accepted again afterwards.
    assert set(watcher.reads) == {200}
    assert watcher.uploads[-1][0] == 200 or _upload_status(serve.base_url) == 200

    # Jobs in flight and queued before the window all finished.
    def all_completed() -> bool:
        return all(status_of(serve.base_url, job) == "completed" for job in backlog)

    wait_until(all_completed, 60, "the jobs queued before the window")

    window_facts = report["checks"]["window"]
    steps = {s["step"]: s for s in window_facts["steps"]}
    assert list(steps) == [
        "pre-flight",
        "maintenance mode",
        "drain",
        "verify",
        "reopen",
        "post-maintenance checks",
        "monitor",
    ]
    assert {s["status"] for s in steps.values()} == {"ok"}
    assert steps["drain"]["details"]["in_flight_at_end"] == 0
    smoke = steps["verify"]["details"]["smoke_test"]
    assert smoke["ok"] is True and smoke["status"] == "completed"
    assert status_of(serve.base_url, smoke["job_id"]) == "completed"
    assert window_facts["mode"] == "cleared"
    assert len(window_facts["monitor"]) == 2

    # The maintenance log entry is complete and reads back the same through `maint report`.
    logged = _cli(env, "maint", "report", "--run", report["id"], "--format", "json")
    entry = json.loads(logged.stdout)
    assert entry["kind"] == "window" and entry["status"] == "ok"
    assert entry["finished_at"] and entry["duration_seconds"] > 0
    assert [t["task"] for t in entry["tasks"]] == ["analyze", "log_cleanup"]
    assert entry["before"]["database"] and entry["after"]["database"]

    mode = json.loads(_cli(env, "maint", "mode", "status", "--json").stdout)
    assert mode["enabled"] is False
    assert [h["action"] for h in mode["history"][:3]] == ["stop", "resume", "start"]

    after = _cli(env, "maint", "checklist", "post", "--json")
    post = {i["item"]: i["status"] for i in json.loads(after.stdout)}
    assert post["Maintenance mode is off"] == "done"
    assert post["The last maintenance window succeeded and its smoke test passed"] == "done"
    assert post["Users were told the window is over"] == "warn"

    completed = _cli(env, "maint", "notify", "--completion", "--run", report["id"])
    assert completed.returncode == 0, completed.stderr
    assert "weekly" in completed.stdout
    final = _cli(env, "maint", "checklist", "post", "--json")
    assert {i["item"]: i["status"] for i in json.loads(final.stdout)} == {
        **post,
        "Users were told the window is over": "done",
    }
    # Everything a machine can check is done; the rest is for a person.
    assert final.returncode == 0


def _upload_status(base_url: str) -> int:
    files = {"cv": ("cv.txt", b"Jane Tester\nPython"), "project": ("p.txt", b"A report")}
    return httpx.post(f"{base_url}/v1/upload", files=files, timeout=10).status_code


def test_a_drill_restores_serves_and_survives_a_killed_worker(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    env = _env(migrated, tmp_path)
    report_path = tmp_path / "drill.json"
    drill = _cli(
        env,
        "maint",
        "drill",
        "--failover",
        "--failover-jobs",
        "24",
        "--format",
        "json",
        "-o",
        str(report_path),
        timeout=300,
    )
    assert drill.returncode == 0, (drill.stdout[-3000:], drill.stderr[-3000:])
    report = json.loads(report_path.read_text())
    assert report["kind"] == "drill"
    facts = report["checks"]["drill"]
    steps = {s["step"]: s["status"] for s in facts["steps"]}
    assert steps == {
        "backup": "ok",
        "start service": "ok",
        "smoke test": "ok",
        "failover": "ok",
        "verify": "ok",
    }
    assert facts["rto_seconds"] > facts["restore_seconds"] >= 0
    # The schedules under test take no backup, so there is no worst case to promise.
    assert facts["rpo_worst_case_hours"] is None
    failover = facts["failover"]
    assert failover["lost"] == 0 and failover["final"] == {"completed": 24}
    # The drill ran on a copy: the live database has none of its jobs, only its log entry.
    assert db_rows(env, "SELECT count(*) FROM jobs") == [(0,)]
    listed = json.loads(_cli(env, "maint", "report", "--format", "json").stdout)
    assert listed["id"] == report["id"]
