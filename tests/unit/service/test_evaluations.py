from __future__ import annotations

from dataclasses import replace

import pytest

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.errors import Conflict, InvalidArgument, InvalidRubric, NotFound
from cv_evaluator.domain.jobs import EvaluationInputs, JobStatus
from cv_evaluator.evaluation.rubric import load_rubric
from cv_evaluator.service.evaluations import EvaluationService
from tests.support.builders import make_upload
from tests.support.fakes import InMemoryUnitOfWorkFactory


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, job_id: str) -> None:
        self.published.append(job_id)


@pytest.fixture
def uow() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def service(uow: InMemoryUnitOfWorkFactory, publisher: RecordingPublisher) -> EvaluationService:
    return EvaluationService(
        uow,
        publisher,
        ManualClock(),
        rubric_loader=load_rubric,
        max_reference_chars=1000,
        max_attempts=3,
    )


@pytest.fixture
def inputs(uow: InMemoryUnitOfWorkFactory) -> EvaluationInputs:
    cv, project = make_upload(DocumentKind.CV), make_upload(DocumentKind.PROJECT)
    uow.db.uploads.update({cv.id: cv, project.id: project})
    return EvaluationInputs(cv_id=cv.id, project_id=project.id)


async def test_submit_queues_and_publishes(
    service: EvaluationService,
    inputs: EvaluationInputs,
    publisher: RecordingPublisher,
    uow: InMemoryUnitOfWorkFactory,
) -> None:
    submission = await service.submit(inputs, request_id="r-1")
    assert submission.created and submission.job.status is JobStatus.QUEUED
    assert publisher.published == [submission.job.id]
    assert uow.db.jobs[submission.job.id].request_id == "r-1"


async def test_same_key_same_body_is_the_same_job(
    service: EvaluationService, inputs: EvaluationInputs, publisher: RecordingPublisher
) -> None:
    first = await service.submit(inputs, idempotency_key="k")
    again = await service.submit(inputs, idempotency_key="k")
    assert again.job.id == first.job.id and not again.created
    assert publisher.published == [first.job.id]


async def test_same_key_other_body_conflicts(
    service: EvaluationService, inputs: EvaluationInputs
) -> None:
    await service.submit(inputs, idempotency_key="k")
    with pytest.raises(Conflict):
        await service.submit(replace(inputs, job_description="Another role"), idempotency_key="k")


async def test_ids_of_the_wrong_kind_are_invalid(
    service: EvaluationService, inputs: EvaluationInputs
) -> None:
    swapped = EvaluationInputs(cv_id=inputs.project_id, project_id=inputs.cv_id)
    with pytest.raises(InvalidArgument) as caught:
        await service.submit(swapped)
    assert caught.value.details["field"] == "cv_id"


@pytest.mark.parametrize("cv_id", ["cv_01JAAAAAAAAAAAAAAAAAAAAAAA", "nonsense", ""])
async def test_unknown_ids_are_not_found(
    service: EvaluationService, inputs: EvaluationInputs, cv_id: str
) -> None:
    with pytest.raises(NotFound):
        await service.submit(replace(inputs, cv_id=cv_id))


async def test_overlong_and_empty_texts_are_invalid(
    service: EvaluationService, inputs: EvaluationInputs
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await service.submit(replace(inputs, job_description="x" * 1001))
    assert caught.value.details == {"field": "job_description", "length": 1001, "limit": 1000}
    with pytest.raises(InvalidArgument):
        await service.submit(replace(inputs, study_case_brief="   "))


async def test_an_invalid_rubric_is_refused_before_queueing(
    service: EvaluationService, inputs: EvaluationInputs, publisher: RecordingPublisher
) -> None:
    with pytest.raises(InvalidRubric):
        await service.submit(replace(inputs, scoring_rubric="cv: [1, 2"))
    assert publisher.published == []
