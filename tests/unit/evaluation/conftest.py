from __future__ import annotations

import pytest

from cv_evaluator.domain.evaluation import (
    CandidateDocument,
    EvaluationRequest,
    ReferenceDocument,
    Rubric,
)
from cv_evaluator.evaluation import (
    LocalEvaluator,
    default_case_study_brief,
    default_job_description,
    default_rubric,
)
from tests.unit.evaluation.samples import STRONG_CV, STRONG_REPORT


def document(text: str, **kwargs: object) -> CandidateDocument:
    warnings = kwargs.get("warnings", ())
    hidden = kwargs.get("hidden_text", "")
    assert isinstance(warnings, tuple)
    assert isinstance(hidden, str)
    return CandidateDocument(
        text=text, media_type="text/markdown", warnings=warnings, hidden_text=hidden
    )


def make_request(
    cv: str | CandidateDocument = STRONG_CV,
    report: str | CandidateDocument = STRONG_REPORT,
    *,
    job_description: ReferenceDocument | None = None,
    study_case_brief: ReferenceDocument | None = None,
    rubric: Rubric | None = None,
) -> EvaluationRequest:
    return EvaluationRequest(
        cv=cv if isinstance(cv, CandidateDocument) else document(cv),
        project=report if isinstance(report, CandidateDocument) else document(report),
        job_description=job_description or default_job_description(),
        study_case_brief=study_case_brief or default_case_study_brief(),
        rubric=rubric or default_rubric(),
    )


class FixedTimer:
    """Advances one millisecond per call, so receipts carry a reproducible duration."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@pytest.fixture
def evaluator() -> LocalEvaluator:
    return LocalEvaluator(timer=FixedTimer())
