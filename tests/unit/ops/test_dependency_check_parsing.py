"""The dependency checks read pip-audit's and pip's real output formats (fed here, no network)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cv_evaluator.config import Settings
from cv_evaluator.domain.clock import SystemClock
from cv_evaluator.ops.checks.dependencies import (
    CommandResult,
    CommandTimedOut,
    audit,
    outdated_packages,
)
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import Status


def _ctx(**overrides: Any) -> OpsContext:
    # Creating an engine opens nothing; these checks never touch it.
    return OpsContext(
        settings=Settings(**overrides),
        clock=SystemClock(),
        engine=create_async_engine("sqlite+aiosqlite://"),
    )


class CannedRunner:
    """Answers each command with the next canned result (or exception); records the calls."""

    def __init__(self, *answers: CommandResult | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[str], float]] = []

    async def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append((list(argv), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _audit_json(*dependencies: dict[str, Any]) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def _vulnerable(name: str, version: str, vuln_id: str, fixes: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "vulns": [
            {
                "id": vuln_id,
                "fix_versions": fixes,
                "aliases": ["CVE-2024-0001"],
                "description": "A flaw.",
            }
        ],
    }


def _clean(name: str) -> dict[str, Any]:
    return {"name": name, "version": "1.0", "vulns": []}


def _skipped(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} (1.0)",
    }


async def test_vulnerability_with_a_fix_is_critical_and_named() -> None:
    runner = CannedRunner(
        CommandResult(
            1,
            _audit_json(
                _vulnerable("jinja2", "3.0.0", "GHSA-h5c8-rqwp-cp95", ["3.1.3"]),
                _clean("flask"),
                _skipped("ai-cv-evaluator"),
            ),
            "Found 1 known vulnerability in 1 package\n",
        )
    )
    outcome = await audit(_ctx(maint_check_timeout_seconds=20), runner)
    assert outcome.status is Status.CRITICAL
    assert "jinja2 3.0.0 GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in outcome.summary
    assert outcome.details["audited"] == 2
    assert outcome.details["not_audited"] == 0  # the service's own package is not counted
    vuln = outcome.details["vulnerabilities"][0]
    assert vuln == {
        "package": "jinja2",
        "version": "3.0.0",
        "id": "GHSA-h5c8-rqwp-cp95",
        "aliases": ["CVE-2024-0001"],
        "fix_versions": ["3.1.3"],
    }
    argv, timeout = runner.calls[0]
    assert argv[1:5] == ["-m", "pip_audit", "--format", "json"]
    assert "--progress-spinner" in argv
    assert timeout == pytest.approx(18.0)  # 90% of MAINT_CHECK_TIMEOUT_SECONDS
    assert any(t.setting == "MAINT_CHECK_TIMEOUT_SECONDS" for t in outcome.thresholds)


async def test_vulnerability_without_a_fix_is_a_warning() -> None:
    runner = CannedRunner(
        CommandResult(1, _audit_json(_vulnerable("pyyaml", "6.0", "PYSEC-1", [])), "")
    )
    outcome = await audit(_ctx(), runner)
    assert outcome.status is Status.WARN
    assert "pyyaml 6.0 PYSEC-1 (no fix)" in outcome.summary


async def test_nothing_audited_is_unknown_never_ok() -> None:
    runner = CannedRunner(
        CommandResult(
            0,
            _audit_json(_skipped("ai-cv-evaluator"), _skipped("aiokafka"), _skipped("alembic")),
            "No known vulnerabilities found\n",
        )
    )
    outcome = await audit(_ctx(), runner)
    assert outcome.status is Status.UNKNOWN
    assert outcome.summary.startswith(
        "advisory service unreachable: 2 of 2 packages could not be audited"
    )


async def test_clean_audit_is_ok_and_lists_what_was_not_on_pypi() -> None:
    runner = CannedRunner(
        CommandResult(0, _audit_json(_clean("flask"), _clean("httpx"), _skipped("private")), "")
    )
    outcome = await audit(_ctx(), runner)
    assert outcome.status is Status.OK
    assert outcome.summary == (
        "2 packages audited, no known vulnerabilities; 1 not on PyPI, not audited: private"
    )


async def test_audit_time_out_is_unknown() -> None:
    runner = CannedRunner(CommandTimedOut(["pip-audit"], 4.5))
    outcome = await audit(_ctx(maint_check_timeout_seconds=5), runner)
    assert outcome.status is Status.UNKNOWN
    assert "did not finish within 4.5 s" in outcome.summary
    assert runner.calls[0][1] == pytest.approx(4.5)


async def test_audit_that_crashed_is_unknown_with_its_error() -> None:
    runner = CannedRunner(CommandResult(1, "", "Traceback...\nConnectionError: boom\n"))
    outcome = await audit(_ctx(), runner)
    assert outcome.status is Status.UNKNOWN
    assert outcome.summary == "pip-audit failed (exit 1): ConnectionError: boom"


PROBE_OK = CommandResult(
    0,
    "pip (26.3)\nAvailable versions: 26.3, 26.2\n  INSTALLED: 26.3\n  LATEST:    26.3\n",
    "WARNING: pip index is currently an experimental command.\n",
)
PROBE_UNREACHABLE = CommandResult(1, "", "ERROR: No matching distribution found for pip\n")


async def test_outdated_packages_are_a_warning_with_current_and_latest() -> None:
    listing = json.dumps(
        [
            {
                "name": "fastapi",
                "version": "0.110.0",
                "latest_version": "0.115.2",
                "latest_filetype": "wheel",
            }
        ]
    )
    runner = CannedRunner(PROBE_OK, CommandResult(0, listing, ""))
    outcome = await outdated_packages(_ctx(), runner)
    assert outcome.status is Status.WARN
    assert "fastapi 0.110.0 → 0.115.2" in outcome.summary
    assert outcome.details["outdated"] == [
        {"name": "fastapi", "version": "0.110.0", "latest_version": "0.115.2"}
    ]
    assert runner.calls[1][0][1:5] == ["-m", "pip", "list", "--outdated"]


async def test_empty_list_from_a_reached_index_is_ok() -> None:
    runner = CannedRunner(PROBE_OK, CommandResult(0, "[]\n", ""))
    outcome = await outdated_packages(_ctx(), runner)
    assert outcome.status is Status.OK


async def test_unreachable_index_is_unknown_and_the_listing_is_not_trusted() -> None:
    # pip prints [] and exits 0 when it cannot reach the index: the probe must catch that.
    runner = CannedRunner(PROBE_UNREACHABLE, CommandResult(0, "[]\n", ""))
    outcome = await outdated_packages(_ctx(), runner)
    assert outcome.status is Status.UNKNOWN
    assert outcome.summary.startswith("package index unreachable")
    assert len(runner.calls) == 1


async def test_connection_trouble_while_listing_is_unknown() -> None:
    stderr = "WARNING: Retrying (Retry(total=4)) after connection broken by 'ReadTimeoutError'\n"
    runner = CannedRunner(PROBE_OK, CommandResult(0, "[]\n", stderr))
    outcome = await outdated_packages(_ctx(), runner)
    assert outcome.status is Status.UNKNOWN
    assert "partly unreachable" in outcome.summary


async def test_outdated_time_out_is_unknown() -> None:
    runner = CannedRunner(PROBE_OK, CommandTimedOut(["pip", "list"], 3.0))
    outcome = await outdated_packages(_ctx(), runner)
    assert outcome.status is Status.UNKNOWN
    assert "did not finish within 3 s" in outcome.summary
