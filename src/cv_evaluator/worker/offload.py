"""Run the local evaluator's CPU-bound scoring in separate processes.

In a thread, scoring holds the interpreter lock and slows every request the same process serves;
in a process pool it runs beside the event loop on its own core. A crashed pool process fails the
attempt transiently (the job is retried) and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cv_evaluator.domain.errors import TransientEvaluationError
from cv_evaluator.domain.evaluation import EvaluationOutcome, EvaluationRequest
from cv_evaluator.evaluation.lexicon import lexicon
from cv_evaluator.evaluation.local import EVALUATOR_NAME, EVALUATOR_VERSION, LocalEvaluator
from cv_evaluator.observability import tracing

_process_evaluator: LocalEvaluator | None = None


def _start_process() -> None:
    global _process_evaluator  # one evaluator per pool process, built once
    _process_evaluator = LocalEvaluator()
    lexicon()
    gc.collect()
    gc.freeze()


def _evaluate_in_process(
    request: EvaluationRequest, time_steps: bool
) -> tuple[EvaluationOutcome, list[tracing.StepTiming]]:
    assert _process_evaluator is not None, "pool process was not initialised"
    if not time_steps:
        return _process_evaluator.evaluate_sync(request), []
    # The trace lives in the parent process: the steps are timed here and become spans there.
    step, timings = tracing.step_recorder()
    return _process_evaluator.evaluate_sync(request, step=step), timings


class ProcessPoolEvaluator:
    """The local evaluator, run in ``processes`` worker processes (started on first use)."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: children start from a clean process, never from a fork of one that holds
        # database threads and an event loop.
        return ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_process,
        )

    @property
    def name(self) -> str:
        return EVALUATOR_NAME

    @property
    def version(self) -> str:
        return EVALUATOR_VERSION

    async def evaluate(self, request: EvaluationRequest) -> EvaluationOutcome:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            outcome, timings = await loop.run_in_executor(
                pool, _evaluate_in_process, request, tracing.enabled()
            )
        except BrokenProcessPool as exc:
            if pool is self._pool:
                self._pool = self._new_pool()
            pool.shutdown(wait=False, cancel_futures=True)
            raise TransientEvaluationError(
                "an evaluation process died; the job will be retried"
            ) from exc
        tracing.record_steps(timings)
        return outcome

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
