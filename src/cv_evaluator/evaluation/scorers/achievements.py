"""Relevant achievements: quantified, attributable outcomes that matter for this role.

An achievement is a passage about the candidate's own work (not a bare list entry) that reports
an outcome: an action verb of impact ("reduced", "launched") and, better, a measure of it (a
percentage, money, a multiple, a count of users). Its relevance is how much of the job
description's vocabulary it shares. The value saturates: three strong, relevant achievements are
as good as it gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.documents import Segment
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.requirements import RequirementKind, parameter_query
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, fine_score
from cv_evaluator.evaluation.sections import CvSection
from cv_evaluator.evaluation.signals import ACHIEVEMENT_VERBS, quantities
from cv_evaluator.evaluation.text import tokenize

__all__ = ["score_achievements"]

RELEVANCE_FLOOR = 0.4  # share of an impact an achievement unrelated to the job still earns
SATURATION = 3.0  # strong, relevant achievements needed for the top of the scale
RELEVANCE_TERMS = 3.0  # job-description terms an achievement must share to count as fully relevant
_WHERE = (
    CvSection.EXPERIENCE,
    CvSection.PROJECTS,
    CvSection.ACHIEVEMENTS,
    CvSection.SUMMARY,
    CvSection.OTHER,
)


@dataclass(frozen=True, slots=True)
class Achievement:
    segment: Segment
    measures: tuple[str, ...]
    verb: bool
    relevance: float

    @property
    def strength(self) -> float:
        impact = (0.4 if self.verb else 0.0) + (0.6 if self.measures else 0.0)
        return impact * (RELEVANCE_FLOOR + (1 - RELEVANCE_FLOOR) * self.relevance)


def _job_terms(ctx: ScoreContext) -> dict[str, float]:
    terms: dict[str, float] = {}
    for req in ctx.corpus.job:
        if req.kind in (RequirementKind.CONTEXT, RequirementKind.RUBRIC):
            continue
        for unit in req.units:
            if unit.weight >= 0.5:
                for key in unit.keys:
                    if not key.isdigit():
                        terms[key] = max(terms.get(key, 0.0), unit.weight)
    return terms


def _achievements(ctx: ScoreContext) -> list[Achievement]:
    job = _job_terms(ctx)
    out: list[Achievement] = []
    for segment in ctx.cv.segments:
        if segment.listed or segment.section not in _WHERE or segment.negated:
            continue
        measures = tuple(quantities(segment.text))
        verb = any(token.text in ACHIEVEMENT_VERBS for token in tokenize(segment.text))
        if not measures and not verb:
            continue
        shared = sum(min(1.0, job[key]) for key in segment.terms if key in job)
        out.append(Achievement(segment, measures, verb, min(1.0, shared / RELEVANCE_TERMS)))
    return out


def score_achievements(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    document = ctx.cv
    found = sorted(_achievements(ctx), key=lambda a: (-a.strength, a.segment.chunk.index))
    query = parameter_query(param)
    retrieved = tuple(ctx.corpus.retrieve(query, ["job_description"], 3))
    value = min(1.0, sum(a.strength for a in found) / SATURATION)
    measured = [a for a in found if a.measures]
    relevant = [a for a in found if a.relevance >= 0.5]
    missing: list[str] = []
    if not measured:
        missing.append("Quantified outcomes (numbers, percentages, scale) for the work described")
    if found and not relevant:
        missing.append("Achievements related to the requirements of this role")
    evidence = verified((quote(document, a.segment) for a in found[:4]), document.text, limit=3)
    if not evidence or value <= 0:
        return ParameterResult(
            score=1.0,
            rationale="No achievements (outcomes of the candidate's own work) in the CV; scored "
            "the minimum.",
            evidence=(),
            missing=tuple(missing) or ("Achievements with measurable outcomes",),
            retrieved=retrieved,
            value=0.0,
        )
    rationale = (
        f"The CV reports {len(found)} outcome{'s' if len(found) != 1 else ''} of the "
        f"candidate's work, {len(measured)} quantified and {len(relevant)} clearly related to "
        "the role."
    )
    return ParameterResult(
        score=fine_score(value),
        rationale=rationale,
        evidence=evidence,
        missing=tuple(missing),
        retrieved=retrieved,
        value=round(value, 4),
        details={
            "achievements": len(found),
            "quantified": len(measured),
            "relevant": len(relevant),
            "measures": [m for a in measured[:5] for m in a.measures[:2]],
        },
    )
