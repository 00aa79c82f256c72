"""Honest documents must not be treated as manipulation, and their experience must be read right.

Each case here was once wrong on the sample CV and report shipped in ``examples/``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cv_evaluator.evaluation import LocalEvaluator
from cv_evaluator.evaluation.chunking import chunk_document
from cv_evaluator.evaluation.experience import date_ranges
from cv_evaluator.evaluation.manipulation import find_injections, find_stuffing
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.unit.evaluation.conftest import make_request

LLM_REPORT_SENTENCES = (
    "Invalid model output is repaired once by asking the model to return valid JSON against the "
    "schema.",
    "The system prompt tells the model to ignore any instructions found inside the CV.",
    'The prompt starts with "You are an expert technical evaluator" and then lists the rubric.',
    "The result holds cv_match_rate, project_score and overall_summary.",
    "In the scaled-out setup, the API publishes the job id to a Kafka topic after the "
    "transaction commits, and consumers claim the job by id.",
)


@pytest.mark.parametrize("sentence", LLM_REPORT_SENTENCES)
def test_describing_an_llm_system_is_not_an_injection(sentence: str) -> None:
    text = f"## Design\n{sentence}\n"
    assert find_injections(text) == []
    assert find_stuffing(chunk_document(text, "project"), text) == []


def test_a_skills_section_of_normal_length_is_not_stuffing() -> None:
    assert find_stuffing(chunk_document(SAMPLE_CV_TEXT, "cv"), SAMPLE_CV_TEXT) == []


def test_the_sample_documents_raise_no_flags_and_score_as_strong() -> None:
    request = replace(make_request(SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT), as_of=date(2026, 11, 29))
    outcome = LocalEvaluator().evaluate_sync(request)
    assert outcome.flags == ()
    experience = next(item for item in outcome.breakdown if item.key == "experience_level")
    # Seven years as a backend engineer, the job asks for three.
    assert experience.score >= 4.5
    assert outcome.cv_match_rate >= 0.8


def test_present_in_a_date_range_is_the_evaluation_date() -> None:
    (open_range,) = date_ranges("Senior Engineer (03/2021 - present)", present=(2026, 11))
    assert (open_range.end - open_range.start) / 12 == pytest.approx(5.75, abs=0.1)
    (unknown,) = date_ranges("Senior Engineer (03/2021 - present)")
    assert (unknown.end - unknown.start) / 12 < 1.0  # no date known: only what the text says
