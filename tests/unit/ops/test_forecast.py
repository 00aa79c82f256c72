from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cv_evaluator.ops.resources import DiskSample, forecast

T0 = datetime(2026, 3, 1, tzinfo=UTC)
GIB = 1024**3


def test_steady_consumption_gives_days_until_full() -> None:
    # 1 GiB consumed per day, 10 GiB left at the latest sample: 10 days.
    samples = [DiskSample(T0 + timedelta(days=d), (15 - d) * GIB) for d in range(6)]
    result = forecast(samples)
    assert result.growth_bytes_per_day == pytest.approx(GIB)
    assert result.days_until_full == pytest.approx(10.0)


def test_space_being_freed_never_fills() -> None:
    samples = [DiskSample(T0 + timedelta(days=d), (5 + d) * GIB) for d in range(3)]
    result = forecast(samples)
    assert result.growth_bytes_per_day is not None and result.growth_bytes_per_day < 0
    assert result.days_until_full is None


def test_too_little_history_is_said_not_guessed() -> None:
    assert forecast([DiskSample(T0, GIB)]).reason == "needs at least two samples"
    close = [DiskSample(T0, 2 * GIB), DiskSample(T0 + timedelta(minutes=20), GIB)]
    result = forecast(close)
    assert result.days_until_full is None
    assert result.reason == "samples span less than an hour"


def test_order_of_samples_does_not_matter() -> None:
    samples = [DiskSample(T0 + timedelta(hours=h), (100 - h) * GIB) for h in (5, 0, 3, 1)]
    assert forecast(samples).days_until_full == pytest.approx(95 / 24)
