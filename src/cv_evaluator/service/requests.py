"""Assemble what an evaluator needs from stored uploads and the caller's optional documents."""

from __future__ import annotations

from datetime import date

from cv_evaluator.domain.documents import ExtractedDocument, Upload
from cv_evaluator.domain.errors import ErrorCode, EvaluationFailed
from cv_evaluator.domain.evaluation import CandidateDocument, EvaluationRequest
from cv_evaluator.domain.jobs import EvaluationInputs, Job
from cv_evaluator.domain.ports import UnitOfWorkFactory
from cv_evaluator.evaluation.references import (
    default_case_study_brief,
    default_job_description,
    reference_document,
)
from cv_evaluator.evaluation.rubric import default_rubric, load_rubric


def document_from(extracted: ExtractedDocument) -> CandidateDocument:
    return CandidateDocument(
        text=extracted.text,
        media_type=extracted.media_type.value,
        warnings=extracted.warnings,
        hidden_text=extracted.hidden_text,
    )


def candidate(upload: Upload) -> CandidateDocument:
    return CandidateDocument(
        text=upload.text,
        media_type=upload.media_type.value,
        warnings=upload.warnings,
        hidden_text=upload.hidden_text,
    )


def build_request(
    cv: CandidateDocument,
    project: CandidateDocument,
    inputs: EvaluationInputs,
    as_of: date | None = None,
) -> EvaluationRequest:
    """A document sent with the request always wins over the shipped default."""
    job_description = (
        reference_document("job_description", inputs.job_description, "request")
        if inputs.job_description is not None
        else default_job_description()
    )
    brief = (
        reference_document("study_case_brief", inputs.study_case_brief, "request")
        if inputs.study_case_brief is not None
        else default_case_study_brief()
    )
    rubric = (
        load_rubric(inputs.scoring_rubric)
        if inputs.scoring_rubric is not None
        else default_rubric()
    )
    return EvaluationRequest(
        cv=cv,
        project=project,
        job_description=job_description,
        study_case_brief=brief,
        rubric=rubric,
        as_of=as_of,
    )


class JobRequestLoader:
    """Builds the evaluation request of a stored job from its uploads."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, job: Job) -> EvaluationRequest:
        async with self._uow() as uow:
            cv = await uow.uploads.get(job.inputs.cv_id)
            project = await uow.uploads.get(job.inputs.project_id)
        if cv is None or project is None:
            raise EvaluationFailed(
                "an uploaded document of this job no longer exists",
                code=ErrorCode.DOCUMENT_MISSING,
            )
        return build_request(
            candidate(cv), candidate(project), job.inputs, as_of=job.created_at.date()
        )
