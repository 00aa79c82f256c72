"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cv_evaluator.config import LogFormat, Settings
from tests.support.backends import Databases, session_databases
from tests.support.kafka_server import KafkaServer, KafkaUnavailable


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Tests never read the developer's environment: every value not set here is the default.
    # Scoring in a thread keeps most tests fast; the process pool has tests of its own.
    return Settings(data_dir=tmp_path / "data", log_format=LogFormat.TEXT, ai_local_processes=0)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.split("_", 1)[0] in {
            "DB",
            "QUEUE",
            "AI",
            "APP",
            "DATA",
            "JOB",
            "WORKER",
            "MAX",
            "LOG",
            "READY",
            "OTEL",
        }:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """Fresh databases per test; a throwaway PostgreSQL starts the first time one is asked for."""
    yield from session_databases()


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaServer]:
    """One throwaway Kafka broker for the session; tests isolate themselves by topic and group."""
    server = KafkaServer()
    problem = None
    try:
        server.start()
    except KafkaUnavailable as error:
        problem = str(error)
    if problem is not None:
        server.stop()
        # A missing broker is a broken test set-up, never a reason to skip the queue's tests.
        pytest.fail(f"cannot start the test Kafka broker: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
