"""Pure parts of the SQLite checks: staleness of statistics, the last analyze in the log."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from cv_evaluator.ops.checks.sqlite import is_corruption, is_stale, last_analyze


@pytest.mark.parametrize(
    ("analysed", "actual", "stale"),
    [
        (0, 0, False),
        (0, 999, False),  # small tables never matter
        (0, 1000, True),
        (100, 1000, False),  # exactly ten times: not yet
        (99, 1000, True),
        (50_000, 4_000, True),  # shrank by more than ten times
        (50_000, 6_000, False),
    ],
)
def test_staleness(analysed: int, actual: int, stale: bool) -> None:
    assert is_stale(analysed, actual) is stale


def _task(name: str, status: str, started: str) -> dict[str, str]:
    return {"task": name, "status": status, "started_at": started}


def test_last_analyze_takes_the_latest_successful_analyze_task() -> None:
    runs = [
        json.dumps(
            [
                _task("log_cleanup", "ok", "2026-03-01T00:00:00+00:00"),
                _task("analyze", "ok", "2026-01-01T00:00:00+00:00"),
            ]
        ),
        json.dumps([_task("vacuum_analyze", "ok", "2026-02-01T00:00:00+00:00")]),
        json.dumps([_task("analyze", "failed", "2026-04-01T00:00:00+00:00")]),
        json.dumps([_task("analyze", "planned", "2026-05-01T00:00:00+00:00")]),
        "not json",
        json.dumps({"unexpected": "shape"}),
        [_task("analyze", "ok", "not a time")],
    ]
    assert last_analyze(runs) == datetime(2026, 2, 1, tzinfo=UTC)
    assert last_analyze([]) is None


def test_corruption_errors_are_recognised() -> None:
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    corrupt.sqlite_errorcode = sqlite3.SQLITE_CORRUPT
    assert is_corruption(corrupt)
    assert is_corruption(sqlite3.DatabaseError("file is not a database"))
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
