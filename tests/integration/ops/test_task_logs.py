"""log_cleanup against a real directory: exact counts, untouched neighbours, distinct endings."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskStatus
from cv_evaluator.ops.tasks.logs import log_cleanup
from tests.integration.ops.conftest import OpsFactory

DAY = 86_400.0


def _file(directory: Path, name: str, size: int, age_days: float) -> Path:
    path = directory / name
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


def _ops(make_ops: OpsFactory, log_dir: Path | None) -> OpsContext:
    return make_ops("sqlite", log_dir=log_dir)


async def test_log_dir_not_set_is_skipped(make_ops: OpsFactory) -> None:
    outcome = await log_cleanup(_ops(make_ops, None), False)
    assert outcome.status is TaskStatus.SKIPPED
    assert outcome.summary.startswith("LOG_DIR is not set")
    assert outcome.figures["result"] == "not_configured"


async def test_missing_directory_is_skipped_and_named(make_ops: OpsFactory, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    outcome = await log_cleanup(_ops(make_ops, missing), False)
    assert outcome.status is TaskStatus.SKIPPED
    assert outcome.summary == f"directory missing: LOG_DIR {missing} does not exist"
    assert outcome.figures["result"] == "directory_missing"
    assert not missing.exists()


async def test_nothing_matched_is_told_apart_from_zero_removed(
    make_ops: OpsFactory, log_dir: Path
) -> None:
    _file(log_dir, "notes.txt", 10, age_days=400)
    _file(log_dir, "app.log.1", 10, age_days=400)
    outcome = await log_cleanup(_ops(make_ops, log_dir), False)
    assert outcome.status is TaskStatus.OK
    assert outcome.figures["result"] == "nothing_matched"
    assert outcome.figures["matched_files"] == 0
    assert outcome.summary.startswith("nothing matched the patterns *.log, *.gz in ")
    assert "(2 other entries left alone)" in outcome.summary
    assert _names(log_dir) == ["app.log.1", "notes.txt"]


async def test_files_too_young_give_zero_removed(make_ops: OpsFactory, log_dir: Path) -> None:
    _file(log_dir, "api.log", 100, age_days=29)
    _file(log_dir, "api.log.gz", 100, age_days=89)
    outcome = await log_cleanup(_ops(make_ops, log_dir), False)
    assert outcome.status is TaskStatus.OK
    assert outcome.figures["result"] == "none_old_enough"
    assert outcome.figures["matched_files"] == 2
    assert outcome.figures["removed_files"] == 0
    assert outcome.summary.startswith("0 removed: 2 log files matched, none older than 30 days")
    assert _names(log_dir) == ["api.log", "api.log.gz"]


async def test_old_files_are_removed_with_exact_counts_and_neighbours_untouched(
    make_ops: OpsFactory, log_dir: Path, tmp_path: Path
) -> None:
    old_log = _file(log_dir, "worker.log", 1000, age_days=31)
    old_gz = _file(log_dir, "api.log.1.gz", 300, age_days=91)
    old_other_gz = _file(log_dir, "archive.gz", 200, age_days=120)
    young_log = _file(log_dir, "api.log", 5000, age_days=1)
    gz_old_for_log_but_not_for_gz = _file(log_dir, "api.log.2.gz", 700, age_days=60)
    other = _file(log_dir, "README.txt", 50, age_days=365)
    nested = log_dir / "archive"
    nested.mkdir()
    nested_old = _file(nested, "deep.log", 10, age_days=365)
    outside = _file(tmp_path, "outside.log", 10, age_days=365)
    (log_dir / "linked.log").symlink_to(outside)

    ctx = _ops(make_ops, log_dir)
    planned = await log_cleanup(ctx, True)
    assert planned.status is TaskStatus.PLANNED
    assert planned.figures["eligible_files"] == 3
    assert planned.figures["eligible_bytes"] == 1500
    assert planned.figures["removed_files"] == 0
    assert sorted(a.split(" (")[0] for a in planned.actions) == sorted(
        f"delete {p}" for p in (old_log, old_gz, old_other_gz)
    )
    assert f"delete {old_log} (1000 bytes, modified " in "\n".join(planned.actions)
    assert old_log.exists() and old_gz.exists() and old_other_gz.exists()

    outcome = await log_cleanup(ctx, False)

    assert outcome.status is TaskStatus.OK, outcome.summary
    assert outcome.figures["result"] == "removed"
    assert outcome.figures["removed_files"] == 3
    assert outcome.figures["removed_bytes"] == 1500
    assert outcome.figures["removed_by_kind"] == {"log": 1, "compressed": 2}
    assert outcome.figures["matched_files"] == 5
    assert outcome.figures["ignored"] == {"other files": 1, "subdirectories": 1, "symlinks": 1}
    assert outcome.summary == (
        "removed 3 files (1.5 KiB): 1 *.log, 2 compressed; 2 kept (3 other entries left alone)"
    )
    assert len(outcome.actions) == 3
    for gone in (old_log, old_gz, old_other_gz):
        assert not gone.exists()
    for kept in (young_log, gz_old_for_log_but_not_for_gz, other, nested_old, outside):
        assert kept.exists()
    assert (log_dir / "linked.log").is_symlink()


async def test_age_is_judged_by_the_injected_clock(make_ops: OpsFactory, log_dir: Path) -> None:
    log = _file(log_dir, "api.log", 10, age_days=0)
    ctx = _ops(make_ops, log_dir)
    later = ManualClock(datetime.now(UTC))
    later.advance(29 * DAY)
    outcome = await log_cleanup(dataclasses.replace(ctx, clock=later), False)
    assert outcome.figures["result"] == "none_old_enough" and log.exists()

    later.advance(2 * DAY)
    outcome = await log_cleanup(dataclasses.replace(ctx, clock=later), False)
    assert outcome.figures["removed_files"] == 1 and not log.exists()


async def test_retention_settings_are_applied(make_ops: OpsFactory, log_dir: Path) -> None:
    log = _file(log_dir, "api.log", 10, age_days=3)
    gz = _file(log_dir, "api.log.gz", 10, age_days=3)
    ctx = make_ops(
        "sqlite",
        log_dir=log_dir,
        maint_log_retention_days=2,
        maint_log_compressed_retention_days=4,
    )
    outcome = await log_cleanup(ctx, False)
    assert outcome.figures["removed_by_kind"] == {"log": 1, "compressed": 0}
    assert not log.exists() and gz.exists()
    assert outcome.figures["retention_days"] == {"log": 2, "compressed": 4}
