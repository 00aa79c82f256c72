from __future__ import annotations

import json

import pytest

from cv_evaluator.domain.evaluation import EvaluationOutcome
from cv_evaluator.domain.ports import Evaluator
from cv_evaluator.evaluation import LocalEvaluator, default_rubric, load_rubric, reference_document
from cv_evaluator.evaluation.local import EVALUATOR_NAME, EVALUATOR_VERSION
from tests.unit.evaluation.conftest import FixedTimer, make_request
from tests.unit.evaluation.samples import STRONG_CV, STRONG_REPORT, UNRELATED_CV, WEAK_REPORT

CUSTOM_RUBRIC = """
name: custom
version: "7"
cv:
  security_awareness:
    weight: 0.5
    label: Security awareness
    description: Authentication, encryption, secrets handling and threat modelling.
  python_depth:
    weight: 0.5
    description: Deep Python knowledge - asyncio, typing, packaging and testing with pytest.
project:
  api_design:
    weight: 1.0
    description: Clean HTTP API design with clear endpoints, status codes and error bodies.
"""


def test_it_satisfies_the_evaluator_port() -> None:
    evaluator: Evaluator = LocalEvaluator()
    assert evaluator.name == EVALUATOR_NAME == "local-rubric"
    assert evaluator.version == EVALUATOR_VERSION


def assert_valid(outcome: EvaluationOutcome) -> None:
    rubric_keys = [item.key for item in outcome.breakdown]
    assert len(rubric_keys) == len(set(rubric_keys))
    for item in outcome.breakdown:
        assert isinstance(item.score, float)
        assert 1 <= item.score <= 5
        assert round(item.score, 1) == item.score  # one decimal, nothing finer
        assert "nearest to rubric level" in item.rationale
        assert outcome.receipt.raw_scores[item.key] == item.score
    assert 0 < outcome.cv_match_rate <= 1
    assert 2 <= outcome.project_score <= 10
    assert outcome.cv_feedback
    assert outcome.project_feedback
    assert outcome.overall_summary
    json.dumps(outcome.as_dict())  # the stored document is plain JSON


async def test_default_rubric_outcome_is_complete(evaluator: LocalEvaluator) -> None:
    request = make_request()
    outcome = await evaluator.evaluate(request)
    assert_valid(outcome)
    rubric = default_rubric()
    assert [item.key for item in outcome.breakdown] == [p.key for p in rubric.parameters]
    scores = dict(outcome.receipt.raw_scores)
    assert outcome.cv_match_rate == rubric.cv_match_rate(scores)
    assert outcome.project_score == rubric.project_score(scores)
    receipt = outcome.receipt
    assert receipt.evaluator == "local-rubric"
    assert receipt.evaluator_version == EVALUATOR_VERSION
    assert receipt.path == ("prepare", "retrieve", "score", "feedback")
    assert receipt.rubric_hash == rubric.content_hash
    assert receipt.rubric_name == "default"
    assert receipt.reference_hashes["job_description"] == request.job_description.sha256
    assert receipt.reference_hashes["study_case_brief"] == request.study_case_brief.sha256
    assert receipt.reference_hashes["skills_lexicon"]
    assert receipt.retrieved_chunks
    for chunk in receipt.retrieved_chunks:
        assert chunk.text
        assert chunk.id
        assert chunk.parameter in scores
    assert receipt.duration_ms == pytest.approx(1.0)


def test_evidence_is_verbatim_from_the_scored_document(evaluator: LocalEvaluator) -> None:
    outcome = evaluator.evaluate_sync(make_request())
    for item in outcome.breakdown:
        source = STRONG_CV if item.group.value == "cv" else STRONG_REPORT
        for quote in item.evidence:
            assert quote in source


def test_same_input_gives_byte_identical_output() -> None:
    first = LocalEvaluator(timer=FixedTimer()).evaluate_sync(make_request())
    second = LocalEvaluator(timer=FixedTimer()).evaluate_sync(make_request())
    assert json.dumps(first.as_dict(), sort_keys=True) == json.dumps(
        second.as_dict(), sort_keys=True
    )


def test_custom_rubric_keys_get_the_generic_scorer(evaluator: LocalEvaluator) -> None:
    rubric = load_rubric(CUSTOM_RUBRIC)
    outcome = evaluator.evaluate_sync(make_request(rubric=rubric))
    assert_valid(outcome)
    assert [item.key for item in outcome.breakdown] == [
        "security_awareness",
        "python_depth",
        "api_design",
    ]
    assert outcome.receipt.details["scorers"]["python_depth"] == "generic"
    scores = dict(outcome.receipt.raw_scores)
    assert outcome.cv_match_rate == rubric.cv_match_rate(scores)


def test_generic_scorer_is_not_a_constant(evaluator: LocalEvaluator) -> None:
    rubric = load_rubric(CUSTOM_RUBRIC)
    strong = evaluator.evaluate_sync(make_request(rubric=rubric))
    weak = evaluator.evaluate_sync(make_request(UNRELATED_CV, WEAK_REPORT, rubric=rubric))
    strong_scores = strong.receipt.raw_scores
    weak_scores = weak.receipt.raw_scores
    assert strong_scores["python_depth"] > weak_scores["python_depth"]
    assert strong_scores["api_design"] > weak_scores["api_design"]


def test_a_job_description_sent_with_the_request_is_the_one_used(
    evaluator: LocalEvaluator,
) -> None:
    chef_job = reference_document(
        "job_description",
        "# Pastry Chef\n\n## Requirements\n- Baking and chocolate tempering\n"
        "- Menu planning and food safety\n- Managing a kitchen team\n",
        "request",
    )
    outcome = evaluator.evaluate_sync(make_request(UNRELATED_CV, job_description=chef_job))
    assert outcome.receipt.reference_hashes["job_description"] == chef_job.sha256
    jd_chunks = [c for c in outcome.receipt.retrieved_chunks if c.source == "job_description"]
    assert jd_chunks
    assert all(c.text in chef_job.text for c in jd_chunks)
    default = evaluator.evaluate_sync(make_request(UNRELATED_CV))
    assert outcome.cv_match_rate > default.cv_match_rate
