from __future__ import annotations

from datetime import timedelta

import pytest

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.errors import ErrorCode, EvaluationFailed, Unavailable
from cv_evaluator.domain.jobs import JobStatus
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.service.requests import JobRequestLoader
from cv_evaluator.worker.processor import JobProcessor, ProcessorSettings
from cv_evaluator.worker.retry import backoff_seconds
from tests.support.builders import T0, make_job, make_upload
from tests.support.fakes import (
    InMemoryJobLedger,
    InMemoryUnitOfWorkFactory,
    ScriptedEvaluator,
    transient,
)

SETTINGS = ProcessorSettings(
    lease_seconds=30, timeout_seconds=5, retry_base_seconds=2, retry_max_seconds=60
)


class Harness:
    def __init__(self, evaluator: ScriptedEvaluator, max_attempts: int = 3) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.ledger = InMemoryJobLedger(self.uow.db)
        self.clock = ManualClock(T0)
        self.metrics = ServiceMetrics()
        self.evaluator = evaluator
        self.processor = JobProcessor(
            self.ledger, evaluator, JobRequestLoader(self.uow), self.clock, SETTINGS, self.metrics
        )
        cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
        self.job = make_job(cv, project, max_attempts=max_attempts)
        self.uow.db.uploads.update({cv.id: cv, project.id: project})
        self.uow.db.jobs[self.job.id] = self.job

    async def run_once(self) -> None:
        now = self.clock.now()
        job = await self.ledger.claim_next("w", now, now + timedelta(seconds=30))
        assert job is not None, "no job was due"
        await self.processor.process(job, "w")

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def test_backoff_doubles_with_bounded_jitter() -> None:
    delays = [backoff_seconds("job_x", attempt, base=2, cap=1000) for attempt in (1, 2, 3, 4)]
    for attempt, delay in enumerate(delays, start=1):
        nominal = 2 * 2 ** (attempt - 1)
        assert 0.75 * nominal <= delay < 1.25 * nominal
    assert backoff_seconds("job_x", 20, base=2, cap=60) == 60
    assert delays == [backoff_seconds("job_x", a, base=2, cap=1000) for a in (1, 2, 3, 4)]


async def test_success_stores_result_with_receipt_and_attempts() -> None:
    harness = Harness(ScriptedEvaluator())
    await harness.run_once()
    job = harness.uow.db.jobs[harness.job.id]
    result = harness.uow.db.results[harness.job.id]
    assert job.status is JobStatus.COMPLETED
    assert result["receipt"]["evaluator"] == "scripted"
    assert [a["outcome"] for a in result["receipt"]["attempts"]] == ["completed"]
    assert harness.metric("jobs_completed_total") == 1
    assert harness.metric("jobs_processing") == 0


async def test_transient_failure_is_retried_then_succeeds() -> None:
    harness = Harness(ScriptedEvaluator([transient()]))
    await harness.run_once()
    job = harness.uow.db.jobs[harness.job.id]
    assert job.status is JobStatus.QUEUED and job.attempts == 1
    delay = backoff_seconds(job.id, 1, base=2, cap=60)
    assert job.available_at == T0 + timedelta(seconds=delay)
    harness.clock.advance(delay)
    await harness.run_once()
    assert harness.uow.db.jobs[job.id].status is JobStatus.COMPLETED
    outcomes = [a["outcome"] for a in harness.uow.db.results[job.id]["receipt"]["attempts"]]
    assert outcomes == ["UNAVAILABLE", "completed"]
    assert harness.metric("jobs_retried_total", code="UNAVAILABLE") == 1


async def test_transient_failures_end_failed_after_the_last_attempt() -> None:
    harness = Harness(ScriptedEvaluator([transient(), transient()]), max_attempts=2)
    await harness.run_once()
    harness.clock.advance(100)
    await harness.run_once()
    job = harness.uow.db.jobs[harness.job.id]
    assert job.status is JobStatus.FAILED
    assert job.error_code == "UNAVAILABLE"
    assert job.error_message is not None and "after 2 attempts" in job.error_message
    assert harness.metric("jobs_failed_total", code="UNAVAILABLE") == 1
    assert harness.job.id not in harness.uow.db.results


async def test_permanent_failure_is_not_retried() -> None:
    harness = Harness(ScriptedEvaluator([EvaluationFailed("unreadable answer")]))
    await harness.run_once()
    job = harness.uow.db.jobs[harness.job.id]
    assert job.status is JobStatus.FAILED and job.attempts == 1
    assert (job.error_code, job.error_message) == ("EVALUATION_FAILED", "unreadable answer")
    assert harness.evaluator.calls == 1
    assert harness.metric("jobs_failed_total", code="EVALUATION_FAILED") == 1
    assert harness.metric("jobs_retried_total", code="EVALUATION_FAILED") == 0
    assert harness.metric("jobs_completed_total") == 0
    assert harness.metric("evaluation_duration_seconds_count", evaluator="scripted") == 1


async def test_missing_documents_fail_the_job() -> None:
    harness = Harness(ScriptedEvaluator())
    harness.uow.db.uploads.clear()
    await harness.run_once()
    job = harness.uow.db.jobs[harness.job.id]
    assert job.status is JobStatus.FAILED and job.error_code == ErrorCode.DOCUMENT_MISSING.value
    assert harness.evaluator.calls == 0
    assert harness.metric("jobs_failed_total", code="DOCUMENT_MISSING") == 1
    # The evaluator never ran: its duration histogram has nothing to say about this attempt.
    assert harness.metric("evaluation_duration_seconds_count", evaluator="scripted") == 0


async def test_a_timeout_counts_as_transient() -> None:
    harness = Harness(ScriptedEvaluator(delay=0.2))
    harness.processor = JobProcessor(
        harness.ledger,
        harness.evaluator,
        JobRequestLoader(harness.uow),
        harness.clock,
        ProcessorSettings(
            lease_seconds=30, timeout_seconds=0.05, retry_base_seconds=1, retry_max_seconds=5
        ),
        harness.metrics,
    )
    await harness.run_once()
    job = harness.uow.db.jobs[harness.job.id]
    assert job.status is JobStatus.QUEUED
    assert job.attempt_log[-1]["outcome"] == "EVALUATION_TIMEOUT"


async def test_result_of_a_lost_lease_is_discarded() -> None:
    harness = Harness(ScriptedEvaluator())
    now = harness.clock.now()
    job = await harness.ledger.claim_next("w", now, now + timedelta(seconds=30))
    assert job is not None
    # Another worker reclaims after the lease ran out; the first one's result must not land.
    harness.clock.advance(31)
    later = harness.clock.now()
    assert await harness.ledger.claim_next("w2", later, later + timedelta(seconds=30)) is not None
    await harness.processor.process(job, "w")
    assert harness.job.id not in harness.uow.db.results
    assert harness.uow.db.jobs[job.id].lease_owner == "w2"
    assert harness.metric("jobs_completed_total") == 0


@pytest.mark.parametrize("attempts", [1, 2])
async def test_scripted_evaluator_fake_scores_from_the_request(attempts: int) -> None:
    # The fake must not be a constant: different documents give different scores.
    harness = Harness(ScriptedEvaluator())
    first = harness.uow.db.uploads[harness.job.inputs.cv_id]
    from dataclasses import replace

    harness.uow.db.uploads[first.id] = replace(first, text="x" * attempts)
    await harness.run_once()
    raw = harness.uow.db.results[harness.job.id]["receipt"]["raw_scores"]
    assert raw["technical_skills"] == 1 + (attempts + 0) % 5


class UnreachableLedger(InMemoryJobLedger):
    """The database went away after the claim: every write fails as the real adapter would."""

    async def complete(self, *args: object, **kwargs: object) -> bool:
        raise Unavailable("the database is unavailable")


async def test_an_outcome_that_cannot_be_recorded_leaves_the_job_to_its_lease() -> None:
    harness = Harness(ScriptedEvaluator())
    harness.ledger = UnreachableLedger(harness.uow.db)
    harness.processor = JobProcessor(
        harness.ledger,
        harness.evaluator,
        JobRequestLoader(harness.uow),
        harness.clock,
        SETTINGS,
        harness.metrics,
    )
    await harness.run_once()  # must not raise
    job = harness.uow.db.jobs[harness.job.id]
    assert job.status is JobStatus.PROCESSING and job.lease_owner == "w"
    harness.clock.advance(31)
    assert (
        await InMemoryJobLedger(harness.uow.db).claim_next(
            "w2", harness.clock.now(), harness.clock.now()
        )
        is not None
    )
