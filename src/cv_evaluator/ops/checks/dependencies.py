"""Checks of the installed Python packages: known vulnerabilities (pip-audit) and updates (pip).

Both run a tool of the service's own environment in a subprocess with a time limit. The command
runner is a parameter so that tests can feed the tools' real output formats without a network.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import Outcome, Status
from cv_evaluator.ops.registry import check

GROUP = "dependencies"
# The service's own distribution is never on PyPI: that it cannot be audited says nothing.
OWN_DISTRIBUTION = "ai-cv-evaluator"
# Share of MAINT_CHECK_TIMEOUT_SECONDS a tool may use, so that the check itself reports the
# time-out (and kills the tool) before the runner gives up on the check.
TOOL_TIME_SHARE = 0.9
LISTED = 5
# What pip writes to stderr when it could not reach an index while listing (retries, errors).
_INDEX_TROUBLE = ("retrying", "could not fetch", "connection", "timed out", "max retries")


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class CommandTimedOut(Exception):
    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(f"{' '.join(argv)} did not finish within {timeout:g} s")
        self.argv = list(argv)
        self.timeout = timeout


CommandRunner = Callable[[Sequence[str], float], Awaitable[CommandResult]]


async def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run ``argv`` without a shell; raise CommandTimedOut (process killed) after ``timeout``."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        raise CommandTimedOut(argv, timeout) from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return CommandResult(
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
    )


def tool_timeout(ctx: OpsContext) -> float:
    return max(1.0, ctx.settings.maint_check_timeout_seconds * TOOL_TIME_SHARE)


def _with_time_limit(ctx: OpsContext, outcome: Outcome) -> Outcome:
    limit = ctx.threshold("maint_check_timeout_seconds", "unknown when not done within", "s")
    return replace(outcome, thresholds=[*outcome.thresholds, limit])


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _timed_out(exc: CommandTimedOut, what: str) -> Outcome:
    return Outcome(
        Status.UNKNOWN,
        f"{what} did not finish within {exc.timeout:g} s (a share of "
        "MAINT_CHECK_TIMEOUT_SECONDS): the index or advisory service is slow or unreachable; "
        "raise MAINT_CHECK_TIMEOUT_SECONDS to give it longer",
        {"command": exc.argv, "timeout_seconds": exc.timeout},
    )


# --- vulnerabilities ------------------------------------------------------------------------


def pip_audit_command(timeout: float) -> list[str]:
    # Socket time-out well inside the overall limit, so one hung request cannot use it all.
    socket_timeout = max(1, int(timeout / 3))
    return [
        sys.executable,
        "-m",
        "pip_audit",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--timeout",
        str(socket_timeout),
    ]


def judge_audit(result: CommandResult) -> Outcome:
    """Read pip-audit's JSON report.

    CRITICAL when a vulnerable package has a fixed version published: the hole is public and the
    remedy is an upgrade away. WARN when no fix exists yet: nothing to upgrade to, assess the
    exposure. UNKNOWN when nothing could be audited (the advisory service was not reached:
    pip-audit then marks every package "not found on PyPI"), never OK.
    """
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = None
    dependencies = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(dependencies, list):
        return Outcome(
            Status.UNKNOWN,
            f"pip-audit failed (exit {result.returncode}): {_last_line(result.stderr)}",
            {"returncode": result.returncode, "stderr": result.stderr[-2000:]},
        )
    audited: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for dependency in dependencies:
        if not isinstance(dependency, dict):
            continue
        name = str(dependency.get("name", "?"))
        if dependency.get("skip_reason"):
            if name != OWN_DISTRIBUTION:
                skipped.append({"name": name, "reason": str(dependency["skip_reason"])})
        else:
            audited.append(dependency)
    total = len(audited) + len(skipped)
    details: dict[str, Any] = {
        "audited": len(audited),
        "not_audited": len(skipped),
        "not_audited_packages": skipped[:50],
    }
    if not audited:
        first = f" (first: {skipped[0]['reason']})" if skipped else ""
        return Outcome(
            Status.UNKNOWN,
            f"advisory service unreachable: {len(skipped)} of {total} packages could not be "
            f"audited{first}",
            details,
        )
    vulnerabilities = []
    for dependency in audited:
        for vuln in dependency.get("vulns") or []:
            if not isinstance(vuln, dict):
                continue
            vulnerabilities.append(
                {
                    "package": str(dependency.get("name")),
                    "version": str(dependency.get("version")),
                    "id": str(vuln.get("id")),
                    "aliases": [str(a) for a in vuln.get("aliases") or []],
                    "fix_versions": [str(v) for v in vuln.get("fix_versions") or []],
                }
            )
    details["vulnerabilities"] = vulnerabilities
    not_audited = ""
    if skipped:
        names = ", ".join(s["name"] for s in skipped[:LISTED])
        not_audited = f"; {len(skipped)} not on PyPI, not audited: {names}"
    if not vulnerabilities:
        return Outcome(
            Status.OK,
            f"{len(audited)} packages audited, no known vulnerabilities{not_audited}",
            details,
        )
    fixable = [v for v in vulnerabilities if v["fix_versions"]]
    status = Status.CRITICAL if fixable else Status.WARN
    shown = ", ".join(
        f"{v['package']} {v['version']} {v['id']}"
        + (f" (fixed in {', '.join(v['fix_versions'])})" if v["fix_versions"] else " (no fix)")
        for v in (fixable or vulnerabilities)[:LISTED]
    )
    advice = (
        "upgrade to a fixed version and redeploy"
        if fixable
        else "no fixed version exists yet: assess the exposure"
    )
    return Outcome(
        status,
        f"{len(vulnerabilities)} known vulnerability(ies) in "
        f"{len({v['package'] for v in vulnerabilities})} package(s): {shown}; {advice}"
        f"{not_audited}",
        details,
    )


async def audit(ctx: OpsContext, runner: CommandRunner = run_command) -> Outcome:
    timeout = tool_timeout(ctx)
    try:
        result = await runner(pip_audit_command(timeout), timeout)
    except CommandTimedOut as exc:
        return _with_time_limit(ctx, _timed_out(exc, "pip-audit"))
    return _with_time_limit(ctx, judge_audit(result))


@check(
    "dependencies.vulnerabilities",
    group=GROUP,
    description="Known vulnerabilities of the installed packages (pip-audit against the PyPI "
    "advisory service).",
    concurrent=True,
)
async def vulnerabilities(ctx: OpsContext) -> Outcome:
    return await audit(ctx)


# --- updates --------------------------------------------------------------------------------


def index_probe_command() -> list[str]:
    # pip is installed wherever this runs and is on every index that mirrors PyPI: if pip's
    # versions cannot be listed, the index is not reachable.
    return [sys.executable, "-m", "pip", "index", "versions", "pip", "--disable-pip-version-check"]


def outdated_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "list",
        "--outdated",
        "--exclude-editable",
        "--format",
        "json",
        "--disable-pip-version-check",
    ]


def index_reached(probe: CommandResult) -> bool:
    return probe.returncode == 0 and "Available versions:" in probe.stdout


def judge_outdated(probe: CommandResult, listing: CommandResult | None) -> Outcome:
    """Read ``pip list --outdated``; the probe tells an empty list from an unreachable index.

    pip treats an index it cannot reach as one that has nothing newer: it exits 0 and prints
    ``[]``. So the index is first asked for pip's own versions; and a listing whose stderr
    mentions connection trouble is not trusted to be complete.
    """
    if not index_reached(probe) or listing is None:
        return Outcome(
            Status.UNKNOWN,
            "package index unreachable: pip could not list the versions of pip itself "
            f"({_last_line(probe.stderr)})",
            {"probe_returncode": probe.returncode, "probe_stderr": probe.stderr[-2000:]},
        )
    try:
        packages = json.loads(listing.stdout)
    except ValueError:
        packages = None
    if listing.returncode != 0 or not isinstance(packages, list):
        return Outcome(
            Status.UNKNOWN,
            f"pip list --outdated failed (exit {listing.returncode}): {_last_line(listing.stderr)}",
            {"returncode": listing.returncode, "stderr": listing.stderr[-2000:]},
        )
    outdated = [
        {
            "name": str(p.get("name")),
            "version": str(p.get("version")),
            "latest_version": str(p.get("latest_version")),
        }
        for p in packages
        if isinstance(p, dict)
    ]
    trouble = any(marker in listing.stderr.lower() for marker in _INDEX_TROUBLE)
    details: dict[str, Any] = {
        "outdated": outdated,
        "count": len(outdated),
        "index_trouble": trouble,
    }
    if trouble:
        details["stderr"] = listing.stderr[-2000:]
    if outdated:
        shown = ", ".join(
            f"{p['name']} {p['version']} → {p['latest_version']}" for p in outdated[:LISTED]
        )
        more = f" (+{len(outdated) - LISTED} more)" if len(outdated) > LISTED else ""
        partial = "; some index pages could not be read, there may be more" if trouble else ""
        return Outcome(
            Status.WARN,
            f"{len(outdated)} package(s) outdated: {shown}{more}; plan the upgrades, test, "
            f"redeploy{partial}",
            details,
        )
    if trouble:
        return Outcome(
            Status.UNKNOWN,
            f"package index partly unreachable while listing: {_last_line(listing.stderr)}",
            details,
        )
    return Outcome(Status.OK, "every package is at its latest version", details)


async def outdated_packages(ctx: OpsContext, runner: CommandRunner = run_command) -> Outcome:
    timeout = tool_timeout(ctx)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        probe = await runner(index_probe_command(), timeout)
        listing = None
        if index_reached(probe):
            remaining = max(1.0, deadline - loop.time())
            listing = await runner(outdated_command(), remaining)
    except CommandTimedOut as exc:
        return _with_time_limit(ctx, _timed_out(exc, "pip"))
    return _with_time_limit(ctx, judge_outdated(probe, listing))


@check(
    "dependencies.outdated",
    group=GROUP,
    description="Installed packages with a newer release on the package index (pip list "
    "--outdated).",
    concurrent=True,
)
async def outdated(ctx: OpsContext) -> Outcome:
    return await outdated_packages(ctx)
