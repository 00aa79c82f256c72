from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cv_evaluator.ops.grading import above, below
from cv_evaluator.ops.model import CheckReport, CheckResult, Status, Threshold, worst

WARN = Threshold("warn above", 10, "s", "MAINT_X_WARN", 10)
CRIT = Threshold("critical above", 20, "s", "MAINT_X_CRITICAL", 20)


def result(status: Status) -> CheckResult:
    return CheckResult("x.y", "x", status, "summary", {}, (), datetime(2026, 1, 1, tzinfo=UTC), 1.0)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.OK, 0),
        (Status.WARN, 1),
        (Status.CRITICAL, 2),
        (Status.UNKNOWN, 3),
        (Status.SKIPPED, 0),
    ],
)
def test_exit_codes_follow_the_nagios_convention(status: Status, code: int) -> None:
    assert status.exit_code == code


def test_worst_ranks_critical_over_warn_over_unknown_over_ok() -> None:
    assert worst([Status.OK, Status.UNKNOWN, Status.WARN]) is Status.WARN
    assert worst([Status.OK, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.WARN, Status.CRITICAL, Status.UNKNOWN]) is Status.CRITICAL
    assert worst([Status.SKIPPED, Status.OK]) is Status.OK
    assert worst([Status.SKIPPED]) is Status.OK
    assert worst([]) is Status.OK


def test_report_exit_code_and_counts() -> None:
    report = CheckReport(
        [result(Status.OK), result(Status.UNKNOWN), result(Status.SKIPPED)],
        datetime(2026, 1, 1, tzinfo=UTC),
        3.0,
    )
    assert report.exit_code == 3
    body = report.as_dict()
    assert body["status"] == "UNKNOWN"
    assert body["counts"] == {"OK": 1, "WARN": 0, "CRITICAL": 0, "UNKNOWN": 1, "SKIPPED": 1}


def test_grading_is_strict_at_the_threshold() -> None:
    assert above(10, WARN, CRIT) is Status.OK
    assert above(10.5, WARN, CRIT) is Status.WARN
    assert above(20, WARN, CRIT) is Status.WARN
    assert above(21, WARN, CRIT) is Status.CRITICAL
    low_warn = Threshold("warn below", 0.2, "", "MAINT_FREE_WARN", 0.2)
    low_crit = Threshold("critical below", 0.1, "", "MAINT_FREE_CRITICAL", 0.1)
    assert below(0.2, low_warn, low_crit) is Status.OK
    assert below(0.15, low_warn, low_crit) is Status.WARN
    assert below(0.05, low_warn, low_crit) is Status.CRITICAL


def test_threshold_names_its_setting_and_default() -> None:
    text = Threshold("warn above", 300, "s", "MAINT_PG_LONG_QUERY_WARN_SECONDS", 300.0).describe()
    assert text == "warn above 300 s (MAINT_PG_LONG_QUERY_WARN_SECONDS, default 300.0)"


async def test_concurrent_checks_run_alongside_and_keep_their_place() -> None:
    import asyncio

    from cv_evaluator.config import Settings
    from cv_evaluator.domain.clock import SystemClock
    from cv_evaluator.ops.context import OpsContext
    from cv_evaluator.ops.model import Outcome
    from cv_evaluator.ops.registry import CheckSpec, always
    from cv_evaluator.ops.runner import run_checks

    order: list[str] = []
    slow_started = asyncio.Event()

    async def slow(_ctx: OpsContext) -> Outcome:
        slow_started.set()
        await asyncio.sleep(0.2)
        order.append("slow")
        return Outcome(Status.OK, "slow")

    async def quick(_ctx: OpsContext) -> Outcome:
        # The concurrent check is already under way when the sequential ones run.
        assert slow_started.is_set()
        order.append("quick")
        return Outcome(Status.WARN, "quick")

    specs = [
        CheckSpec("a.slow", "a", "d", always, slow, concurrent=True),
        CheckSpec("a.quick", "a", "d", always, quick),
    ]
    ctx = OpsContext(Settings(), SystemClock(), engine=None)  # type: ignore[arg-type]
    report = await run_checks(ctx, specs)
    assert order == ["quick", "slow"]
    assert [r.check for r in report.results] == ["a.slow", "a.quick"]
    assert report.status is Status.WARN
