"""The reference documents an evaluation is judged against: job description and case-study brief.

The shipped defaults are package data; a document sent with a request replaces the default for that
job only (its ``source`` is ``"request"`` and its hash lands in the receipt).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from cv_evaluator.domain.errors import InvalidArgument
from cv_evaluator.domain.evaluation import ReferenceDocument

__all__ = [
    "MAX_REFERENCE_CHARS",
    "default_case_study_brief",
    "default_job_description",
    "reference_document",
    "sha256_text",
]

MAX_REFERENCE_CHARS = 100_000


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reference_document(name: str, text: str, source: str) -> ReferenceDocument:
    """Wrap a reference text with its hash; rejects empty or oversized documents."""
    if not text.strip():
        raise InvalidArgument(f"{name} is empty", details={"document": name})
    if len(text) > MAX_REFERENCE_CHARS:
        raise InvalidArgument(
            f"{name} is longer than {MAX_REFERENCE_CHARS} characters",
            details={"document": name, "length": len(text), "limit": MAX_REFERENCE_CHARS},
        )
    return ReferenceDocument(name=name, text=text, sha256=sha256_text(text), source=source)


def _packaged(filename: str) -> str:
    return (
        resources.files("cv_evaluator.evaluation")
        .joinpath(f"reference/{filename}")
        .read_text(encoding="utf-8")
    )


@lru_cache(maxsize=1)
def default_job_description() -> ReferenceDocument:
    return reference_document("job_description", _packaged("job_description.md"), "default")


@lru_cache(maxsize=1)
def default_case_study_brief() -> ReferenceDocument:
    return reference_document("study_case_brief", _packaged("case_study_brief.md"), "default")
