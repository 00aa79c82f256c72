"""Disk figures, their history in the maintenance log, and a linear forecast of days until full."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.storage.tables import maintenance_runs

_SECONDS_PER_DAY = 86_400.0
# A trend needs samples spread over at least this long, or noise reads as growth.
MIN_FORECAST_SPAN = timedelta(hours=1)


def watched_paths(ctx: OpsContext) -> dict[str, Path]:
    """The directories whose filesystems the service fills: data, backups, logs."""
    paths = {"data": ctx.settings.data_dir, "backups": ctx.settings.backup_dir}
    if ctx.settings.log_dir is not None:
        paths["logs"] = ctx.settings.log_dir
    return paths


def existing_ancestor(path: Path) -> Path:
    """The path itself or its nearest existing parent: the filesystem it will live on."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def disk_figures(path: Path) -> dict[str, Any]:
    probe = existing_ancestor(path)
    stats = os.statvfs(probe)
    total = stats.f_blocks * stats.f_frsize
    free = stats.f_bavail * stats.f_frsize
    return {
        "path": str(path),
        "exists": path.exists(),
        "device": os.stat(probe).st_dev,
        "total_bytes": total,
        "free_bytes": free,
        "used_bytes": total - stats.f_bfree * stats.f_frsize,
        "free_ratio": (free / total) if total else None,
        "inodes_total": stats.f_files,
        "inodes_free": stats.f_favail,
        "inodes_free_ratio": (stats.f_favail / stats.f_files) if stats.f_files else None,
    }


def resource_figures(ctx: OpsContext) -> dict[str, Any]:
    """What a maintenance run records before and after itself, for trends and reports."""
    return {
        "at": ctx.clock.now().isoformat(),
        "disk": {label: disk_figures(path) for label, path in watched_paths(ctx).items()},
    }


@dataclass(frozen=True, slots=True)
class DiskSample:
    at: datetime
    free_bytes: int


async def disk_history(ctx: OpsContext, label: str, *, days: float = 30.0) -> list[DiskSample]:
    """Free-space samples of one watched path recorded by past maintenance runs."""
    since = ctx.clock.now() - timedelta(days=days)
    query = (
        select(maintenance_runs.c.before, maintenance_runs.c.after)
        .where(maintenance_runs.c.started_at >= since)
        .order_by(maintenance_runs.c.started_at)
    )
    async with ctx.engine.begin() as connection:
        rows = (await connection.execute(query)).all()
    samples = []
    for before, after in rows:
        for figures in (before, after):
            sample = _sample(figures, label)
            if sample is not None:
                samples.append(sample)
    return samples


def _sample(figures: Any, label: str) -> DiskSample | None:
    if not isinstance(figures, dict):
        return None
    disk = figures.get("disk", {}).get(label)
    at = figures.get("at")
    if not isinstance(disk, dict) or not isinstance(at, str):
        return None
    free = disk.get("free_bytes")
    if not isinstance(free, int):
        return None
    return DiskSample(datetime.fromisoformat(at), free)


@dataclass(frozen=True, slots=True)
class Forecast:
    samples: int
    span_hours: float
    growth_bytes_per_day: float | None  # consumption; negative when space is being freed
    days_until_full: float | None  # None: not filling up, or not enough history
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "span_hours": round(self.span_hours, 2),
            "growth_bytes_per_day": (
                None if self.growth_bytes_per_day is None else round(self.growth_bytes_per_day)
            ),
            "days_until_full": (
                None if self.days_until_full is None else round(self.days_until_full, 2)
            ),
            "reason": self.reason,
        }


def forecast(samples: Sequence[DiskSample]) -> Forecast:
    """Least-squares line through free space over time; where it reaches zero is "full"."""
    ordered = sorted(samples, key=lambda s: s.at)
    if len(ordered) < 2:
        return Forecast(len(ordered), 0.0, None, None, "needs at least two samples")
    span = ordered[-1].at - ordered[0].at
    if span < MIN_FORECAST_SPAN:
        return Forecast(
            len(ordered),
            span.total_seconds() / 3600,
            None,
            None,
            "samples span less than an hour",
        )
    origin = ordered[0].at
    xs = [(s.at - origin).total_seconds() / _SECONDS_PER_DAY for s in ordered]
    ys = [float(s.free_bytes) for s in ordered]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    growth = -slope
    days = None
    if growth > 0:
        latest_free = ordered[-1].free_bytes
        days = max(0.0, latest_free / growth)
    return Forecast(len(ordered), span.total_seconds() / 3600, growth, days)
