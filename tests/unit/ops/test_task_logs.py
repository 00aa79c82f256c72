"""log_cleanup's pure rules: which names are logs, and when a file is old enough to go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cv_evaluator.ops.tasks.logs import Kind, LogFile, expired, kind_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)
AGES = {Kind.LOG: timedelta(days=30), Kind.COMPRESSED: timedelta(days=90)}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("api.log", Kind.LOG),
        ("worker-1.log", Kind.LOG),
        ("api.log.gz", Kind.COMPRESSED),
        ("api.log.3.gz", Kind.COMPRESSED),
        ("bundle.gz", Kind.COMPRESSED),
        ("api.log.1", None),
        ("api.logs", None),
        ("notes.txt", None),
        ("api.gzip", None),
        ("log", None),
    ],
)
def test_only_the_two_patterns_are_logs(name: str, kind: Kind | None) -> None:
    assert kind_of(name) is kind


def _log(name: str, kind: Kind, age: timedelta) -> LogFile:
    return LogFile(Path("/logs") / name, kind, 10, NOW - age)


def test_each_kind_has_its_own_retention_and_the_limit_itself_is_kept() -> None:
    files = [
        _log("a.log", Kind.LOG, timedelta(days=30)),
        _log("b.log", Kind.LOG, timedelta(days=30, seconds=1)),
        _log("c.gz", Kind.COMPRESSED, timedelta(days=31)),
        _log("d.gz", Kind.COMPRESSED, timedelta(days=90, seconds=1)),
        _log("future.log", Kind.LOG, timedelta(days=-2)),
    ]
    assert [f.path.name for f in expired(files, NOW, AGES)] == ["b.log", "d.gz"]
