from __future__ import annotations

import hashlib

import pytest

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.evaluation.references import (
    MAX_REFERENCE_CHARS,
    default_case_study_brief,
    default_job_description,
    reference_document,
)


def test_reference_document_hashes_its_text() -> None:
    doc = reference_document("job_description", "We need Go.", "request")
    assert doc.sha256 == hashlib.sha256(b"We need Go.").hexdigest()
    assert doc.source == "request"


def test_defaults_are_cached_packaged_markdown() -> None:
    job = default_job_description()
    brief = default_case_study_brief()
    assert job is default_job_description()
    assert job.source == brief.source == "default"
    assert "## Required skills" in job.text
    assert "## Nice to have" in job.text
    assert "POST /evaluate" in brief.text
    assert "GET /result/{id}" in brief.text


@pytest.mark.parametrize("text", ["", "  \n ", "x" * (MAX_REFERENCE_CHARS + 1)])
def test_empty_or_huge_reference_documents_are_rejected(text: str) -> None:
    with pytest.raises(InvalidArgument):
        reference_document("job_description", text, "request")
