"""Runs checks: applicability, time limits, and errors turned into honest statuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import CheckReport, CheckResult, CheckSkipped, Outcome, Status
from cv_evaluator.ops.registry import CheckSpec

_INSUFFICIENT_PRIVILEGE = "42501"


async def run_check(ctx: OpsContext, spec: CheckSpec) -> CheckResult:
    started_at = ctx.clock.now()
    started = time.perf_counter()
    outcome = await _outcome(ctx, spec)
    return CheckResult(
        check=spec.name,
        group=spec.group,
        status=outcome.status,
        summary=outcome.summary,
        details=outcome.details,
        thresholds=outcome.thresholds,
        checked_at=started_at,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


async def _outcome(ctx: OpsContext, spec: CheckSpec) -> Outcome:
    reason = spec.applies(ctx)
    if reason is not None:
        return Outcome(Status.SKIPPED, f"does not apply: {reason}")
    limit = ctx.settings.maint_check_timeout_seconds
    try:
        async with asyncio.timeout(limit):
            return await spec.run(ctx)
    except CheckSkipped as skipped:
        return Outcome(Status.SKIPPED, skipped.reason)
    except TimeoutError:
        return Outcome(
            Status.UNKNOWN,
            f"no answer within {limit:g} s (MAINT_CHECK_TIMEOUT_SECONDS)",
        )
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            return Outcome(
                Status.SKIPPED,
                f"permission denied for the database user: {_first_line(exc.orig)}",
            )
        return Outcome(Status.UNKNOWN, f"database error: {_first_line(exc.orig)}")
    except Exception as exc:  # a broken check must not hide the others
        return Outcome(Status.UNKNOWN, f"check failed: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__


async def run_checks(ctx: OpsContext, specs: Sequence[CheckSpec]) -> CheckReport:
    """Run the checks one after another, in catalogue order.

    Sequential on purpose: checks are meant to be cheap for the systems they look at, and a
    health check that loads the database it is judging would distort its own figures. Checks
    marked concurrent (they wait on a subprocess and the network) run alongside.
    """
    started_at = ctx.clock.now()
    started = time.perf_counter()
    aside = {
        spec.name: asyncio.create_task(run_check(ctx, spec)) for spec in specs if spec.concurrent
    }
    await asyncio.sleep(0)  # let them start before the sequential checks take the loop
    try:
        in_turn = {s.name: await run_check(ctx, s) for s in specs if not s.concurrent}
        beside = {name: await task for name, task in aside.items()}
    finally:
        for task in aside.values():
            task.cancel()
    results = [in_turn.get(spec.name) or beside[spec.name] for spec in specs]
    return CheckReport(
        results=results,
        started_at=started_at,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
