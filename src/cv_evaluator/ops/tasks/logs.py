"""log_cleanup: delete the service's old log files from ``LOG_DIR``.

Only regular files directly inside ``LOG_DIR`` are considered, and only two kinds:

- ``*.log``: files the log writer writes (current, or left by a process that stopped), deleted
  once unmodified for ``MAINT_LOG_RETENTION_DAYS``;
- ``*.gz`` (``*.log.gz`` included): rotated, compressed logs, deleted once unmodified for
  ``MAINT_LOG_COMPRESSED_RETENTION_DAYS``.

Symbolic links are never followed nor removed (one could point anywhere), and subdirectories
are not entered: the service writes its logs flat in ``LOG_DIR``, so anything below it was put
there by someone else (an operator's archive, another tool) and is not ours to delete. Age is
the modification time compared with the injected clock, so tests move time instead of waiting.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import TaskOutcome, TaskStatus
from cv_evaluator.ops.registry import task
from cv_evaluator.ops.tasks.database import human_bytes

PATTERNS = "*.log, *.gz"


class Kind(StrEnum):
    LOG = "log"
    COMPRESSED = "compressed"


class Result(StrEnum):
    """The distinct endings an operator must be able to tell apart."""

    NOT_CONFIGURED = "not_configured"  # LOG_DIR unset
    DIRECTORY_MISSING = "directory_missing"  # LOG_DIR set, nothing there
    NOTHING_MATCHED = "nothing_matched"  # no *.log / *.gz file at all
    NONE_OLD_ENOUGH = "none_old_enough"  # files matched, none past its retention: 0 removed
    REMOVED = "removed"


def kind_of(name: str) -> Kind | None:
    if name.endswith(".gz"):
        return Kind.COMPRESSED
    if name.endswith(".log"):
        return Kind.LOG
    return None


@dataclass(frozen=True, slots=True)
class LogFile:
    path: Path
    kind: Kind
    size: int
    modified: datetime


@dataclass(slots=True)
class Scan:
    matched: list[LogFile] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # why → how many entries


def scan(directory: Path) -> Scan:
    """Regular files of LOG_DIR that match the patterns; everything else is only counted."""
    result = Scan()
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink():
                reason = "symlinks"
            elif entry.is_dir(follow_symlinks=False):
                reason = "subdirectories"
            elif not entry.is_file(follow_symlinks=False):
                reason = "special files"
            elif (kind := kind_of(entry.name)) is None:
                reason = "other files"
            else:
                info = entry.stat(follow_symlinks=False)
                result.matched.append(
                    LogFile(
                        Path(entry.path),
                        kind,
                        info.st_size,
                        datetime.fromtimestamp(info.st_mtime, UTC),
                    )
                )
                continue
            result.ignored[reason] = result.ignored.get(reason, 0) + 1
    result.matched.sort(key=lambda f: f.path.name)
    return result


def expired(files: list[LogFile], now: datetime, ages: dict[Kind, timedelta]) -> list[LogFile]:
    return [f for f in files if now - f.modified > ages[f.kind]]


def _remove(files: list[LogFile]) -> tuple[list[LogFile], dict[str, str]]:
    removed: list[LogFile] = []
    errors: dict[str, str] = {}
    for log in files:
        try:
            # Checked again right before unlinking: the name may have been replaced since the
            # scan, and only the regular file that was judged may go.
            info = os.lstat(log.path)
            if not stat.S_ISREG(info.st_mode):
                errors[log.path.name] = "no longer a regular file; left alone"
                continue
            os.unlink(log.path)
        except FileNotFoundError:
            errors[log.path.name] = "already gone"
            continue
        except OSError as exc:
            errors[log.path.name] = f"{type(exc).__name__}: {exc.strerror or exc}"
            continue
        removed.append(log)
    return removed, errors


def _describe(log: LogFile) -> str:
    return f"{log.path} ({log.size} bytes, modified {log.modified.isoformat(timespec='seconds')})"


@task(
    "log_cleanup",
    description=(
        "Delete *.log files older than MAINT_LOG_RETENTION_DAYS and compressed *.gz logs older "
        "than MAINT_LOG_COMPRESSED_RETENTION_DAYS from LOG_DIR (no recursion, no symlinks)."
    ),
)
async def log_cleanup(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    directory = ctx.settings.log_dir
    if directory is None:
        return TaskOutcome(
            TaskStatus.SKIPPED,
            "LOG_DIR is not set: the service logs to stdout only, there are no files to clean",
            {"result": Result.NOT_CONFIGURED.value},
        )
    if not directory.exists():
        return TaskOutcome(
            TaskStatus.SKIPPED,
            f"directory missing: LOG_DIR {directory} does not exist",
            {"result": Result.DIRECTORY_MISSING.value, "directory": str(directory)},
        )
    if not directory.is_dir():
        return TaskOutcome(
            TaskStatus.FAILED,
            f"LOG_DIR {directory} is not a directory",
            {"directory": str(directory)},
        )
    settings = ctx.settings
    ages = {
        Kind.LOG: timedelta(days=settings.maint_log_retention_days),
        Kind.COMPRESSED: timedelta(days=settings.maint_log_compressed_retention_days),
    }
    found = await asyncio.to_thread(scan, directory)
    due = expired(found.matched, ctx.clock.now(), ages)
    figures: dict[str, Any] = {
        "directory": str(directory),
        "patterns": PATTERNS,
        "retention_days": {
            "log": settings.maint_log_retention_days,
            "compressed": settings.maint_log_compressed_retention_days,
        },
        "matched_files": len(found.matched),
        "matched_bytes": sum(f.size for f in found.matched),
        "ignored": found.ignored,
        "eligible_files": len(due),
        "eligible_bytes": sum(f.size for f in due),
        "removed_files": 0,
        "removed_bytes": 0,
        "removed_by_kind": {k.value: 0 for k in Kind},
    }
    ignored = sum(found.ignored.values())
    left_alone = f" ({ignored} other entries left alone)" if ignored else ""
    nothing_to_do = TaskStatus.PLANNED if dry_run else TaskStatus.OK
    if not found.matched:
        figures["result"] = Result.NOTHING_MATCHED.value
        return TaskOutcome(
            nothing_to_do,
            f"nothing matched the patterns {PATTERNS} in {directory}{left_alone}: 0 removed",
            figures,
        )
    if not due:
        figures["result"] = Result.NONE_OLD_ENOUGH.value
        return TaskOutcome(
            nothing_to_do,
            f"0 removed: {len(found.matched)} log files matched, none older than "
            f"{settings.maint_log_retention_days:g} days (*.log) or "
            f"{settings.maint_log_compressed_retention_days:g} days (*.gz)",
            figures,
        )
    if dry_run:
        figures["result"] = Result.REMOVED.value
        return TaskOutcome(
            TaskStatus.PLANNED,
            f"would remove {len(due)} of {len(found.matched)} log files "
            f"({human_bytes(figures['eligible_bytes'])})",
            figures,
            [f"delete {_describe(log)}" for log in due],
        )
    removed, errors = await asyncio.to_thread(_remove, due)
    removed_bytes = sum(f.size for f in removed)
    figures.update(
        result=Result.REMOVED.value,
        removed_files=len(removed),
        removed_bytes=removed_bytes,
        removed_by_kind={k.value: sum(1 for f in removed if f.kind is k) for k in Kind},
        errors=errors,
    )
    actions = [f"deleted {_describe(log)}" for log in removed]
    actions += [f"not deleted {name}: {why}" for name, why in errors.items()]
    summary = (
        f"removed {len(removed)} files ({human_bytes(removed_bytes)}): "
        f"{figures['removed_by_kind']['log']} *.log, "
        f"{figures['removed_by_kind']['compressed']} compressed; "
        f"{len(found.matched) - len(removed)} kept{left_alone}"
    )
    failures = {name: why for name, why in errors.items() if why != "already gone"}
    if failures:
        return TaskOutcome(
            TaskStatus.FAILED,
            f"{summary}; {len(failures)} could not be removed: "
            + "; ".join(f"{name}: {why}" for name, why in failures.items()),
            figures,
            actions,
        )
    return TaskOutcome(TaskStatus.OK, summary, figures, actions)
