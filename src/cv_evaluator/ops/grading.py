"""Turning a measured value and its thresholds into a status."""

from __future__ import annotations

from cv_evaluator.ops.model import Status, Threshold


def _number(threshold: Threshold) -> float:
    value = threshold.value
    if isinstance(value, str):
        raise TypeError(f"threshold {threshold.setting} is not a number")
    return float(value)


def above(value: float, warn: Threshold, critical: Threshold | None = None) -> Status:
    """CRITICAL/WARN when ``value`` is strictly above the threshold (at it is still fine)."""
    if critical is not None and value > _number(critical):
        return Status.CRITICAL
    if value > _number(warn):
        return Status.WARN
    return Status.OK


def below(value: float, warn: Threshold, critical: Threshold | None = None) -> Status:
    """CRITICAL/WARN when ``value`` is strictly below the threshold."""
    if critical is not None and value < _number(critical):
        return Status.CRITICAL
    if value < _number(warn):
        return Status.WARN
    return Status.OK
