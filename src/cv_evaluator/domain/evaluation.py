"""Rubrics, evaluation requests and their scored outcomes.

The arithmetic that turns parameter scores into ``cv_match_rate`` and ``project_score`` lives here,
in code, so no evaluator (and no model) can produce an overall figure on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class RubricGroup(StrEnum):
    CV = "cv"
    PROJECT = "project"


@dataclass(frozen=True, slots=True)
class RubricParameter:
    key: str
    label: str
    weight: float
    description: str
    group: RubricGroup
    guidance: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rubric:
    """A validated rubric: weights per group sum to 1; scores are integers on the scale."""

    name: str
    version: str
    cv: tuple[RubricParameter, ...]
    project: tuple[RubricParameter, ...]
    content_hash: str
    scale_min: int = 1
    scale_max: int = 5

    @property
    def parameters(self) -> tuple[RubricParameter, ...]:
        return self.cv + self.project

    def parameter(self, key: str) -> RubricParameter:
        for param in self.parameters:
            if param.key == key:
                return param
        raise KeyError(key)

    def _weighted_mean(
        self, params: Sequence[RubricParameter], scores: Mapping[str, float]
    ) -> float:
        for param in params:
            score = scores[param.key]
            if not self.scale_min <= score <= self.scale_max:
                raise ValueError(f"score {score} for {param.key} is outside the rubric scale")
        return sum(param.weight * scores[param.key] for param in params)

    def cv_match_rate(self, scores: Mapping[str, float]) -> float:
        """Weighted average of the CV parameters divided by the top of the scale: in (0, 1]."""
        return round(self._weighted_mean(self.cv, scores) / self.scale_max, 4)

    def project_score(self, scores: Mapping[str, float]) -> float:
        """Weighted average of the project parameters times 2: a 1–5 scale read as 2–10."""
        return round(self._weighted_mean(self.project, scores) * 10 / self.scale_max, 2)


@dataclass(frozen=True, slots=True)
class ReferenceDocument:
    """A job description or case-study brief, with where it came from."""

    name: str
    text: str
    sha256: str
    source: str  # "default" (shipped with the product) or "request"


@dataclass(frozen=True, slots=True)
class CandidateDocument:
    text: str
    media_type: str
    warnings: tuple[str, ...] = ()
    hidden_text: str = ""


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    cv: CandidateDocument
    project: CandidateDocument
    job_description: ReferenceDocument
    study_case_brief: ReferenceDocument
    rubric: Rubric
    # What "present" and "now" in the documents mean: the day the evaluation was requested, so
    # a retry or a re-run of the same job reads the same dates the same way. None: unknown.
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class ParameterScore:
    key: str
    label: str
    group: RubricGroup
    # On the rubric's scale; an evaluator may use steps finer than whole levels (e.g. 3.5).
    score: float
    weight: float
    rationale: str
    evidence: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "group": self.group.value,
            "score": self.score,
            "weight": self.weight,
            "rationale": self.rationale,
            "evidence": list(self.evidence),
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class Flag:
    """Something a reader of the score must know: manipulation, language, extraction problems."""

    code: str
    document: str  # "cv" or "project"
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "document": self.document,
            "message": self.message,
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    id: str
    source: str
    text: str
    parameter: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "text": self.text,
            "parameter": self.parameter,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class Receipt:
    """How a score was made. Written in the same transaction as the scores."""

    evaluator: str
    evaluator_version: str
    rubric_name: str
    rubric_version: str
    rubric_hash: str
    reference_hashes: Mapping[str, str]
    raw_scores: Mapping[str, float]
    retrieved_chunks: tuple[RetrievedChunk, ...] = ()
    path: tuple[str, ...] = ()
    provider: str | None = None
    model: str | None = None
    prompt_template_hash: str | None = None
    token_usage: Mapping[str, int] | None = None
    duration_ms: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluator": self.evaluator,
            "evaluator_version": self.evaluator_version,
            "path": list(self.path),
            "provider": self.provider,
            "model": self.model,
            "prompt_template_hash": self.prompt_template_hash,
            "rubric": {
                "name": self.rubric_name,
                "version": self.rubric_version,
                "sha256": self.rubric_hash,
            },
            "reference_documents": dict(self.reference_hashes),
            "retrieved_chunks": [chunk.as_dict() for chunk in self.retrieved_chunks],
            "raw_scores": dict(self.raw_scores),
            "token_usage": dict(self.token_usage) if self.token_usage is not None else None,
            "duration_ms": round(self.duration_ms, 3),
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class EvaluationOutcome:
    cv_match_rate: float
    cv_feedback: str
    project_score: float
    project_feedback: str
    overall_summary: str
    breakdown: tuple[ParameterScore, ...]
    flags: tuple[Flag, ...]
    receipt: Receipt

    def as_dict(self) -> dict[str, Any]:
        """The result document as stored and served (the first five keys are the common core)."""
        return {
            "cv_match_rate": self.cv_match_rate,
            "cv_feedback": self.cv_feedback,
            "project_score": self.project_score,
            "project_feedback": self.project_feedback,
            "overall_summary": self.overall_summary,
            "breakdown": [item.as_dict() for item in self.breakdown],
            "flags": [flag.as_dict() for flag in self.flags],
            "receipt": self.receipt.as_dict(),
        }
