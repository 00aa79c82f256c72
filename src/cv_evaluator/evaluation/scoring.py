"""What every parameter scorer receives and returns, and the shared score arithmetic."""

from __future__ import annotations

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
    "ParameterResult",
    "ScoreContext",
    "Scorer",
    "level",
    "shorten",
]

# A value in [0, 1] becomes a 1-5 score at these cut points: equal-width bands, so a score says
# "about this share of what was asked for" and nothing more clever.
DEFAULT_CUTS: tuple[float, float, float, float] = (0.2, 0.4, 0.6, 0.8)


def level(value: float, cuts: Sequence[float] = DEFAULT_CUTS) -> int:
    score = 1
    for cut in cuts:
        if value >= cut - 1e-9:
            score += 1
    return score


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
    score: int
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
