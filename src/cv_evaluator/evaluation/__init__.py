"""Rubrics, reference documents, retrieval and the local (offline, deterministic) evaluator.

Imports only ``cv_evaluator.domain`` from the project; adapters depend on this package, never the
reverse.
"""

from cv_evaluator.evaluation.local import LocalEvaluator
from cv_evaluator.evaluation.references import (
    default_case_study_brief,
    default_job_description,
    reference_document,
)
from cv_evaluator.evaluation.rubric import default_rubric, default_rubric_text, load_rubric

__all__ = [
    "LocalEvaluator",
    "default_case_study_brief",
    "default_job_description",
    "default_rubric",
    "default_rubric_text",
    "load_rubric",
    "reference_document",
]
