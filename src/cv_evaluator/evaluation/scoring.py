"""What every parameter scorer receives and returns, and the shared score arithmetic."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cv_evaluator.domain.evaluation import (
    EvaluationRequest,
    RetrievedChunk,
    Rubric,
    RubricGroup,
    RubricParameter,
)
from cv_evaluator.evaluation.documents import PreparedDocument
from cv_evaluator.evaluation.requirements import ReferenceCorpus, Requirement

__all__ = [
    "DEFAULT_CUTS",
    "SCORE_STEP",
    "ParameterResult",
    "ScoreContext",
    "Scorer",
    "fine_score",
    "guidance_level",
    "level",
    "shorten",
]

# A value in [0, 1] becomes a 1-5 score at these cut points: equal-width bands, so a score says
# "about this share of what was asked for" and nothing more clever.
DEFAULT_CUTS: tuple[float, float, float, float] = (0.2, 0.4, 0.6, 0.8)


# Scores are reported to one decimal: whole levels made a CV and a slightly weaker variant of it
# tie (or flip on noise elsewhere), while finer steps would only show noise as precision.
SCORE_STEP = 0.1


def level(value: float, cuts: Sequence[float] = DEFAULT_CUTS) -> int:
    """The whole rubric level (1-5) a value falls in."""
    score = 1
    for cut in cuts:
        if value >= cut - 1e-9:
            score += 1
    return score


def fine_score(value: float, cuts: Sequence[float] = DEFAULT_CUTS) -> float:
    """A value in [0, 1] as a score in [1.0, 5.0], one decimal, monotonic in the value.

    Piecewise linear through 0 -> 1.0, each cut point -> the half-way mark between the two
    levels it separates (1.5, 2.5, 3.5, 4.5) and 1 -> 5.0, so the nearest whole number of the
    score is the level the band stands for (``level``) and the decimals say where in its band
    the value lies.
    """
    value = min(1.0, max(0.0, value))
    knots = [(0.0, 1.0), *((cut, i + 1.5) for i, cut in enumerate(cuts)), (1.0, 5.0)]
    score = 5.0
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if value <= x1:
            score = y0 + (y1 - y0) * (value - x0) / (x1 - x0) if x1 > x0 else y1
            break
    # counted in whole steps, halves up, so 3.45 never prints as 3.4 on one machine and 3.5 on
    # another (``round`` rounds halves to even)
    steps = int(score / SCORE_STEP + 0.5 + 1e-9)
    return min(5.0, max(1.0, steps / round(1 / SCORE_STEP)))


def guidance_level(score: float) -> int:
    """The whole rubric level a fine score is nearest to (halves round up)."""
    return max(1, min(5, int(score + 0.5 + 1e-9)))


def shorten(text: str, limit: int = 140) -> str:
    """A requirement as it is named in ``missing``: one line, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > 0 else limit - 1].rstrip(",;:-") + "…"


@dataclass(frozen=True, slots=True)
class ScoreContext:
    request: EvaluationRequest
    rubric: Rubric
    corpus: ReferenceCorpus
    cv: PreparedDocument
    project: PreparedDocument

    def document(self, param: RubricParameter) -> PreparedDocument:
        return self.cv if param.group is RubricGroup.CV else self.project

    def reference_source(self, param: RubricParameter) -> str:
        return "job_description" if param.group is RubricGroup.CV else "study_case_brief"

    def reference(self, param: RubricParameter) -> tuple[Requirement, ...]:
        return self.corpus.job if param.group is RubricGroup.CV else self.corpus.brief


@dataclass(frozen=True, slots=True)
class ParameterResult:
    score: float  # on the rubric scale, in steps of SCORE_STEP
    rationale: str
    evidence: tuple[str, ...]
    missing: tuple[str, ...]
    retrieved: tuple[tuple[Requirement, float], ...]
    value: float  # the measure behind the score, in [0, 1]
    details: Mapping[str, Any] = field(default_factory=dict)

    def chunks(self, param: RubricParameter) -> list[RetrievedChunk]:
        return [
            RetrievedChunk(
                id=req.id, source=req.source, text=req.text, parameter=param.key, score=score
            )
            for req, score in self.retrieved
        ]


Scorer = Callable[[ScoreContext, RubricParameter], ParameterResult]
