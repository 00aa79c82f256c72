"""The local rubric evaluator: offline, deterministic, evidence for every score.

Path of one evaluation: prepare the candidate documents (segment, type sections, take out
manipulation) → build the reference corpus from the documents this job uses (chunk + BM25) →
score every rubric parameter with its scorer (retrieval + coverage + evidence) → overall figures
through the domain's rubric arithmetic → feedback and summary from the evidence → receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from cv_evaluator.domain.errors import EvaluationFailed
from cv_evaluator.domain.evaluation import (
    EvaluationOutcome,
    EvaluationRequest,
    Flag,
    ParameterScore,
    Receipt,
    RetrievedChunk,
    RubricGroup,
    RubricParameter,
)
from cv_evaluator.evaluation.documents import prepare
from cv_evaluator.evaluation.feedback import group_feedback, overall_summary
from cv_evaluator.evaluation.lexicon import lexicon
from cv_evaluator.evaluation.requirements import build_corpus
from cv_evaluator.evaluation.scorers import scorer_for
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, guidance_level

__all__ = ["EVALUATOR_NAME", "EVALUATOR_VERSION", "LocalEvaluator", "StepHook"]

EVALUATOR_NAME = "local-rubric"
# Bump whenever a change can move a score: receipts name the version that produced them.
EVALUATOR_VERSION = "1.6.0"
PATH = ("prepare", "retrieve", "score", "feedback")

# Wraps each step of an evaluation (``prepare``, ``retrieve``, ``score_cv``, ``score_project``,
# ``feedback``); the composition root hands in tracing here, so this package never imports it.
StepHook = Callable[[str], AbstractContextManager[object]]


def _no_step(_name: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def _with_level(rationale: str, score: float, param: RubricParameter) -> str:
    """The rationale plus the rubric level the score stands for, in the rubric's own words.

    Scores have one decimal; saying which whole level of the guidance they are nearest to keeps
    a 3.4 as explainable as a 3 was.
    """
    nearest = guidance_level(score)
    guidance = param.guidance.get(nearest)
    sentence = f"{score:.1f}/5 is nearest to rubric level {nearest}"
    sentence += f": {guidance.rstrip('.')}." if guidance else "."
    return f"{rationale} {sentence}"


class LocalEvaluator:
    """Satisfies ``cv_evaluator.domain.ports.Evaluator``.

    ``timer`` is injectable so tests can make the receipt's duration (the only figure that
    depends on the machine) fixed, and compare whole outcomes byte for byte.
    """

    def __init__(
        self, *, timer: Callable[[], float] = time.perf_counter, step: StepHook = _no_step
    ) -> None:
        self._timer = timer
        self._step = step

    @property
    def name(self) -> str:
        return EVALUATOR_NAME

    @property
    def version(self) -> str:
        return EVALUATOR_VERSION

    async def evaluate(self, request: EvaluationRequest) -> EvaluationOutcome:
        # CPU-bound: keep the event loop free for the API and other jobs.
        return await asyncio.to_thread(self.evaluate_sync, request)

    def evaluate_sync(
        self, request: EvaluationRequest, *, step: StepHook | None = None
    ) -> EvaluationOutcome:
        """Evaluate in this thread; ``step`` replaces the evaluator's step hook for this call."""
        started = self._timer()
        try:
            return self._evaluate(request, started, step or self._step)
        except (KeyError, ValueError, IndexError, ZeroDivisionError) as exc:
            # A bug or an input nobody anticipated: fail the job with a stable code, not a
            # traceback in the worker, and never with an invented score.
            raise EvaluationFailed(
                "the local evaluator could not score this input",
                details={"error": type(exc).__name__, "evaluator_version": EVALUATOR_VERSION},
            ) from exc

    def _evaluate(
        self, request: EvaluationRequest, started: float, step: StepHook
    ) -> EvaluationOutcome:
        rubric = request.rubric
        with step("prepare"):
            cv = prepare(request.cv, "cv")
            project = prepare(request.project, "project")
        with step("retrieve"):
            corpus = build_corpus(request.job_description, request.study_case_brief, rubric)
        ctx = ScoreContext(request, rubric, corpus, cv, project)

        # Scored group by group (one step each), then assembled in the rubric's order.
        results: dict[str, tuple[str, ParameterResult]] = {}
        for group in (RubricGroup.CV, RubricGroup.PROJECT):
            with step(f"score_{group.value}"):
                for param in rubric.parameters:
                    if param.group is group:
                        scorer_name, scorer = scorer_for(param.key)
                        results[param.key] = (scorer_name, scorer(ctx, param))

        breakdown: list[ParameterScore] = []
        chunks: list[RetrievedChunk] = []
        scorers: dict[str, str] = {}
        values: dict[str, float] = {}
        details: dict[str, Any] = {}
        for param in rubric.parameters:
            scorer_name, result = results[param.key]
            score = result.score
            if not rubric.scale_min <= score <= rubric.scale_max:
                raise EvaluationFailed(
                    f"scorer {scorer_name} returned {score} for {param.key}, outside the scale",
                    details={"parameter": param.key, "score": score},
                )
            breakdown.append(
                ParameterScore(
                    key=param.key,
                    label=param.label,
                    group=param.group,
                    score=score,
                    weight=param.weight,
                    rationale=_with_level(result.rationale, score, param),
                    evidence=result.evidence,
                    missing=result.missing,
                )
            )
            chunks.extend(result.chunks(param))
            scorers[param.key] = scorer_name
            values[param.key] = result.value
            if result.details:
                details[param.key] = dict(result.details)

        raw = {item.key: item.score for item in breakdown}
        cv_match_rate = rubric.cv_match_rate(raw)
        project_score = rubric.project_score(raw)
        cv_scores = [item for item in breakdown if item.group is RubricGroup.CV]
        project_scores = [item for item in breakdown if item.group is RubricGroup.PROJECT]
        flags: tuple[Flag, ...] = cv.flags + project.flags
        with step("feedback"):
            cv_feedback = group_feedback(cv_scores, "CV")
            project_feedback = group_feedback(project_scores, "project report")
            summary = overall_summary(
                cv_match_rate, project_score, cv_scores, project_scores, flags
            )

        receipt = Receipt(
            evaluator=EVALUATOR_NAME,
            evaluator_version=EVALUATOR_VERSION,
            rubric_name=rubric.name,
            rubric_version=rubric.version,
            rubric_hash=rubric.content_hash,
            reference_hashes={
                "job_description": request.job_description.sha256,
                "study_case_brief": request.study_case_brief.sha256,
                "skills_lexicon": lexicon().version,
            },
            raw_scores=raw,
            retrieved_chunks=tuple(chunks),
            path=PATH,
            duration_ms=(self._timer() - started) * 1000.0,
            details={
                "scorers": scorers,
                "values": values,
                "parameters": details,
                "reference_sources": {
                    "job_description": request.job_description.source,
                    "study_case_brief": request.study_case_brief.source,
                },
                "excluded_spans": {
                    "cv": [[ex.start, ex.end, ex.reason] for ex in cv.exclusions],
                    "project": [[ex.start, ex.end, ex.reason] for ex in project.exclusions],
                },
                "language": {"cv": cv.language, "project": project.language},
            },
        )
        return EvaluationOutcome(
            cv_match_rate=cv_match_rate,
            cv_feedback=cv_feedback,
            project_score=project_score,
            project_feedback=project_feedback,
            overall_summary=summary,
            breakdown=tuple(breakdown),
            flags=flags,
            receipt=receipt,
        )
