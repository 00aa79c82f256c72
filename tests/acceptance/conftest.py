"""Acceptance fixtures: the real ``cv-evaluator`` command as subprocesses."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.backends import BACKENDS, Databases
from tests.support.processes import CLI, CliProcess, ServeProcess


@pytest.fixture(params=BACKENDS)
def service_env(
    request: pytest.FixtureRequest, tmp_path: Path, databases: Databases
) -> dict[str, str]:
    data_dir = tmp_path / "data"
    return {
        "DATA_DIR": str(data_dir),
        "DB_URL": databases.migrated_url(request.param, data_dir),
        "LOG_FORMAT": "json",
        "WORKER_POLL_INTERVAL_SECONDS": "0.2",
    }


@pytest.fixture
def migrated(service_env: dict[str, str]) -> dict[str, str]:
    import os

    subprocess.run(
        [CLI, "migrate"], env={**os.environ, **service_env}, check=True, capture_output=True
    )
    return service_env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., CliProcess]]:
    started: list[CliProcess] = []

    def start(kind: str, env: dict[str, str], *args: str) -> CliProcess:
        log = tmp_path / f"{kind}-{len(started)}.log"
        process: CliProcess
        if kind == "serve":
            process = ServeProcess(env, log, list(args))
        else:
            process = CliProcess([kind, *args], env, log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
