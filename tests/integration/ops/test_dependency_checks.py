"""The dependency checks with the real pip-audit and pip, whatever the network gives."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from cv_evaluator.ops.checks.dependencies import CommandTimedOut, run_command
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckResult, Status
from cv_evaluator.ops.registry import select_checks
from cv_evaluator.ops.runner import run_check
from tests.integration.ops.conftest import OpsFactory


async def check(ctx: OpsContext, name: str) -> CheckResult:
    (spec,) = select_checks([name])
    return await run_check(ctx, spec)


async def test_real_pip_audit_is_never_ok_without_auditing(make_ops: OpsFactory) -> None:
    ctx = make_ops("sqlite", maint_check_timeout_seconds=90)
    result = await check(ctx, "dependencies.vulnerabilities")
    assert result.status is not Status.SKIPPED, result.summary
    if result.status is Status.UNKNOWN:
        # The advisory service was not reached (the usual case on a machine without network),
        # or pip-audit failed or ran out of time: the summary says which.
        assert result.summary.startswith(
            ("advisory service unreachable: ", "pip-audit failed", "pip-audit did not finish")
        ), result.summary
        return
    # Anything else means pip-audit really looked at packages.
    assert result.details["audited"] > 0, result.details
    vulnerabilities = result.details["vulnerabilities"]
    if result.status is Status.OK:
        assert vulnerabilities == []
    else:
        assert result.status in (Status.WARN, Status.CRITICAL)
        assert vulnerabilities and all(v["package"] and v["id"] for v in vulnerabilities)


async def test_real_pip_outdated_tells_a_reached_index_from_an_unreachable_one(
    make_ops: OpsFactory,
) -> None:
    ctx = make_ops("sqlite", maint_check_timeout_seconds=60)
    result = await check(ctx, "dependencies.outdated")
    assert result.status in (Status.OK, Status.WARN, Status.UNKNOWN), result.summary
    if result.status is Status.OK:
        assert result.details["count"] == 0 and not result.details["index_trouble"]
    elif result.status is Status.WARN:
        assert result.details["outdated"]
        assert all(p["latest_version"] != p["version"] for p in result.details["outdated"])


async def test_unreachable_index_is_unknown_for_real(
    make_ops: OpsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip's own configuration, pointed at a closed port, with no retries: pip lists [] and exits
    # 0 — the check must not take that for "nothing outdated".
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    ctx = make_ops("sqlite", maint_check_timeout_seconds=30)
    result = await check(ctx, "dependencies.outdated")
    assert result.status is Status.UNKNOWN, result.summary
    assert result.summary.startswith("package index unreachable")


async def test_run_command_returns_output_and_exit_code() -> None:
    result = await run_command(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); exit(3)"],
        10,
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


async def test_run_command_kills_the_process_at_its_time_limit() -> None:
    marker = "cv-evaluator-test-sleeper"
    started = time.monotonic()
    with pytest.raises(CommandTimedOut) as caught:
        await run_command([sys.executable, "-c", "import time, sys; time.sleep(60)", marker], 0.5)
    assert time.monotonic() - started < 5
    assert caught.value.timeout == 0.5
    left = [
        child
        for child in psutil.Process().children(recursive=True)
        if marker in " ".join(child.cmdline())
    ]
    assert left == []
