"""The local evaluator run in a process pool gives the same scores as in a thread."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import replace

import pytest

from cv_evaluator.domain.errors import TransientEvaluationError
from cv_evaluator.domain.evaluation import CandidateDocument, EvaluationRequest
from cv_evaluator.evaluation.local import LocalEvaluator
from cv_evaluator.evaluation.references import default_case_study_brief, default_job_description
from cv_evaluator.evaluation.rubric import default_rubric
from cv_evaluator.worker.offload import ProcessPoolEvaluator
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT


@pytest.fixture
def request_() -> EvaluationRequest:
    return EvaluationRequest(
        cv=CandidateDocument(SAMPLE_CV_TEXT, "text/plain"),
        project=CandidateDocument(SAMPLE_PROJECT_TEXT, "text/plain"),
        job_description=default_job_description(),
        study_case_brief=default_case_study_brief(),
        rubric=default_rubric(),
    )


@pytest.fixture
def pool() -> Iterator[ProcessPoolEvaluator]:
    evaluator = ProcessPoolEvaluator(1)
    yield evaluator
    evaluator.close()


async def test_same_outcome_as_in_a_thread(
    pool: ProcessPoolEvaluator, request_: EvaluationRequest
) -> None:
    in_process = await pool.evaluate(request_)
    in_thread = LocalEvaluator().evaluate_sync(request_)
    fixed = replace(in_thread.receipt, duration_ms=in_process.receipt.duration_ms)
    assert in_process == replace(in_thread, receipt=fixed)
    assert (pool.name, pool.version) == (LocalEvaluator().name, LocalEvaluator().version)


async def test_a_dead_pool_process_is_a_transient_failure_and_the_pool_recovers(
    pool: ProcessPoolEvaluator, request_: EvaluationRequest
) -> None:
    await pool.evaluate(request_)
    for pid in list(pool._pool._processes):  # the only way to reach the children
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(TransientEvaluationError):
        await pool.evaluate(request_)
    again = await pool.evaluate(request_)
    assert 0 < again.cv_match_rate <= 1
