"""Process one claimed job: build the request, evaluate, and record exactly one outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.errors import CvEvaluatorError, ErrorCode
from cv_evaluator.domain.evaluation import EvaluationOutcome, EvaluationRequest
from cv_evaluator.domain.jobs import Job
from cv_evaluator.domain.ports import Evaluator, JobLedger
from cv_evaluator.observability import tracing
from cv_evaluator.observability.logging import job_id_var, request_id_var
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.worker.retry import backoff_seconds

log = logging.getLogger(__name__)

RequestLoader = Callable[[Job], Awaitable[EvaluationRequest]]
DeadLetters = Callable[[Job, str, str, Sequence[Mapping[str, Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProcessorSettings:
    lease_seconds: float
    timeout_seconds: float
    retry_base_seconds: float
    retry_max_seconds: float


@dataclass(frozen=True, slots=True)
class _Failure:
    code: str
    message: str
    transient: bool


def _classify(exc: BaseException) -> _Failure:
    if isinstance(exc, CvEvaluatorError):
        return _Failure(exc.code.value, exc.message, exc.transient)
    if isinstance(exc, TimeoutError):
        return _Failure(ErrorCode.EVALUATION_TIMEOUT.value, "the evaluation took too long", True)
    # An unexpected error may be a passing fault; retries are bounded, then the job fails.
    return _Failure(ErrorCode.INTERNAL.value, f"internal error ({type(exc).__name__})", True)


class JobProcessor:
    def __init__(
        self,
        ledger: JobLedger,
        evaluator: Evaluator,
        load_request: RequestLoader,
        clock: Clock,
        settings: ProcessorSettings,
        metrics: ServiceMetrics,
        dead_letters: DeadLetters | None = None,
        queue: tracing.QueueInfo = tracing.DB_QUEUE,
    ) -> None:
        self._dead_letters = dead_letters
        self._queue = queue
        self._ledger = ledger
        self._evaluator = evaluator
        self._load_request = load_request
        self._clock = clock
        self._settings = settings
        self._metrics = metrics

    async def process(self, job: Job, worker_id: str) -> None:
        request_token = request_id_var.set(job.request_id)
        job_token = job_id_var.set(job.id)
        self._metrics.jobs_processing.inc()
        heartbeat = asyncio.create_task(self._keep_lease(job.id, worker_id))
        try:
            with tracing.process_span(
                self._queue,
                job.id,
                job.trace_context,
                attempt=job.attempts,
                request_id=job.request_id,
            ):
                await self._run(job, worker_id)
        except asyncio.CancelledError:
            # Shutdown ran out of patience: hand the job back for another worker, uncounted.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._ledger.release(job.id, worker_id, self._clock.now()))
            log.warning("job released on shutdown", extra={"worker": worker_id})
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._metrics.jobs_processing.dec()
            request_id_var.reset(request_token)
            job_id_var.reset(job_token)

    async def _evaluate(self, request: EvaluationRequest) -> EvaluationOutcome:
        evaluator = self._evaluator
        with tracing.span(
            "evaluation.evaluate",
            {
                "cv_evaluator.evaluator.name": evaluator.name,
                "cv_evaluator.evaluator.version": evaluator.version,
            },
        ):
            return await evaluator.evaluate(request)

    def _observe_evaluation(self, started: float) -> None:
        self._metrics.evaluation_duration.labels(evaluator=self._evaluator.name).observe(
            time.perf_counter() - started
        )

    async def release_unstarted(self, job: Job, worker_id: str) -> None:
        await self._ledger.release(job.id, worker_id, self._clock.now())

    async def _keep_lease(self, job_id: str, worker_id: str) -> None:
        interval = self._settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            lease_until = self._clock.now() + timedelta(seconds=self._settings.lease_seconds)
            try:
                still_held = await self._ledger.extend_lease(job_id, worker_id, lease_until)
            except CvEvaluatorError:
                log.warning("could not extend lease; will try again", exc_info=True)
                continue
            if not still_held:
                log.warning("lease lost; the outcome of this attempt will be discarded")
                return

    async def _run(self, job: Job, worker_id: str) -> None:
        started = time.perf_counter()
        started_at = self._clock.now()
        log.info(
            "job started",
            extra={"event": "job_started", "attempt": job.attempts, "worker": worker_id},
        )
        outcome: EvaluationOutcome | None = None
        failure: _Failure | None = None
        try:
            with tracing.span("evaluation.load_request"):
                request = await self._load_request(job)
            # The evaluator's own time, success or failure: an attempt that failed before
            # reaching it (documents gone, database away) or was cut short by shutdown says
            # nothing about the evaluator.
            evaluating = time.perf_counter()
            try:
                outcome = await asyncio.wait_for(
                    self._evaluate(request), self._settings.timeout_seconds
                )
            except Exception:
                self._observe_evaluation(evaluating)
                raise
            self._observe_evaluation(evaluating)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = _classify(exc)
            tracing.mark_error(failure.code)
            log.log(
                logging.WARNING if failure.transient else logging.ERROR,
                "evaluation attempt failed",
                extra={
                    "event": "evaluation_attempt_failed",
                    "code": failure.code,
                    "attempt": job.attempts,
                    "transient": failure.transient,
                },
                exc_info=not isinstance(exc, CvEvaluatorError),
            )
        elapsed = time.perf_counter() - started
        attempt: dict[str, Any] = {
            "attempt": job.attempts,
            "worker": worker_id,
            "started_at": started_at.isoformat(),
            "duration_ms": round(elapsed * 1000, 3),
            "outcome": "completed" if failure is None else failure.code,
        }
        try:
            if outcome is not None:
                await self._record_success(job, worker_id, outcome, attempt)
            elif failure is not None:
                attempt["message"] = failure.message
                await self._record_failure(job, worker_id, failure, attempt)
        except CvEvaluatorError as exc:
            # The database is away: nothing was recorded, and the job is still ours only until
            # the lease runs out; then any worker takes it again. Nothing is lost.
            log.warning(
                "could not record the outcome; the job will be retried after its lease",
                extra={"code": exc.code.value},
            )

    async def _record_success(
        self, job: Job, worker_id: str, outcome: EvaluationOutcome, attempt: dict[str, Any]
    ) -> None:
        document = outcome.as_dict()
        document["receipt"]["attempts"] = [*job.attempt_log, attempt]
        stored = await self._ledger.complete(
            job.id, worker_id, document, self._clock.now(), attempt
        )
        if not stored:
            log.warning("result discarded: the lease was lost before completion")
            return
        self._metrics.jobs_completed.inc()
        self._metrics.cv_match_rate.observe(outcome.cv_match_rate)
        self._metrics.project_score.observe(outcome.project_score)
        # Scores and feedback stay in the database: a log line carries ids and timings only.
        log.info(
            "job completed",
            extra={
                "event": "job_completed",
                "attempt": job.attempts,
                "duration_ms": attempt["duration_ms"],
                "evaluator": self._evaluator.name,
            },
        )

    async def _record_failure(
        self, job: Job, worker_id: str, failure: _Failure, attempt: dict[str, Any]
    ) -> None:
        now = self._clock.now()
        if failure.transient and job.attempts < job.max_attempts:
            delay = backoff_seconds(
                job.id,
                job.attempts,
                base=self._settings.retry_base_seconds,
                cap=self._settings.retry_max_seconds,
            )
            attempt["retry_in_seconds"] = round(delay, 3)
            if await self._ledger.retry_later(
                job.id, worker_id, now + timedelta(seconds=delay), now, attempt
            ):
                self._metrics.jobs_retried.labels(code=failure.code).inc()
                log.info(
                    "job scheduled for another attempt",
                    extra={
                        "event": "job_retry_scheduled",
                        "code": failure.code,
                        "attempt": job.attempts,
                        "retry_in_seconds": attempt["retry_in_seconds"],
                    },
                )
            return
        message = failure.message
        if failure.transient:
            message = f"{message} (gave up after {job.attempts} attempts)"
        if await self._ledger.fail(job.id, worker_id, failure.code, message, now, attempt):
            self._metrics.jobs_failed.labels(code=failure.code).inc()
            log.warning(
                "job failed",
                extra={"event": "job_failed", "code": failure.code, "attempt": job.attempts},
            )
            if self._dead_letters is not None:
                await self._dead_letters(job, failure.code, message, [*job.attempt_log, attempt])
