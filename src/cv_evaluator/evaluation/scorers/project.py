"""Project report scorers: the case-study brief's requirements plus named kinds of evidence.

Each project parameter owns the part of the brief written about it (a "Resilience" section for
resilience, "Bonus" for creativity, ...) — found by heading, or by retrieval when the brief has no
such section — and a table of signals (``signals.py``). Correctness owns every requirement no
other parameter claims. A passage that says something was *not* done never counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.documents import PreparedDocument, Segment
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.matching import RequirementMatch, match_requirement
from cv_evaluator.evaluation.requirements import Requirement, RequirementKind, parameter_query
from cv_evaluator.evaluation.scoring import (
    ParameterResult,
    ScoreContext,
    Scorer,
    fine_score,
    shorten,
)
from cv_evaluator.evaluation.signals import (
    CODE_QUALITY,
    CREATIVITY,
    DOCUMENTATION,
    RESILIENCE,
    Signal,
    find_signals,
)

__all__ = ["PROJECT_SCORERS"]

RETRIEVE_K = 6

# Which brief headings belong to which parameter.
_SECTION_OWNERS: dict[str, re.Pattern[str]] = {
    "resilience": re.compile(r"resilien|error|failure|reliab|robust", re.IGNORECASE),
    "code_quality": re.compile(r"code|quality|structure|test", re.IGNORECASE),
    "documentation": re.compile(r"document|readme|explain", re.IGNORECASE),
    "creativity": re.compile(r"bonus|extra|nice|optional|creativ|stretch", re.IGNORECASE),
}


def _owner(req: Requirement) -> str | None:
    for title in reversed(req.chunk.path):
        for key, pattern in _SECTION_OWNERS.items():
            if pattern.search(title):
                return key
    return None


def _brief_requirements(
    ctx: ScoreContext, param: RubricParameter
) -> list[tuple[Requirement, float]]:
    query = parameter_query(param)
    checklist = [
        req
        for req in ctx.corpus.brief
        if req.kind not in (RequirementKind.CONTEXT, RequirementKind.TITLE, RequirementKind.RUBRIC)
    ] or list(ctx.corpus.brief)
    if param.key == "correctness":
        owned = [req for req in checklist if _owner(req) is None]
    else:
        owned = [req for req in checklist if _owner(req) == param.key]
    if owned:
        return [(req, ctx.corpus.relevance(query, req)) for req in owned]
    return ctx.corpus.retrieve(query, ["study_case_brief"], RETRIEVE_K)


def _positive(document: PreparedDocument) -> list[Segment]:
    return [s for s in document.segments if not s.negated]


def _score_with(
    ctx: ScoreContext,
    param: RubricParameter,
    signals: Sequence[Signal],
    signal_share: float,
    what: str,
) -> ParameterResult:
    document = ctx.project
    retrieved = tuple(_brief_requirements(ctx, param))
    pool = _positive(document)
    matches: list[RequirementMatch] = [
        match_requirement(req, document, pool) for req, _ in retrieved
    ]
    coverage = sum(m.credit for m in matches) / len(matches) if matches else 0.0
    found = find_signals(document, signals, segments=pool) if signals else {}
    # most reports will not show every kind; three quarters of them is a full showing
    signal_value = min(1.0, len(found) / (0.75 * len(signals))) if signals else 0.0
    if not matches:
        value = signal_value
    elif not signals:
        value = coverage
    else:
        value = (1 - signal_share) * coverage + signal_share * signal_value

    ranked = sorted(
        (m for m in matches if m.met and m.segment is not None),
        key=lambda m: (-m.satisfaction, m.requirement.chunk.index),
    )
    quotes = [quote(document, m.segment, m.matched) for m in ranked if m.segment is not None]
    quotes += [quote(document, hits[0].segment) for hits in found.values()]
    evidence = verified(quotes, document.text, limit=4)
    missing = tuple(shorten(m.requirement.text) for m in matches if not m.met)
    absent = [s.name.replace("_", " ") for s in signals if s.name not in found]
    if not evidence or value <= 0:
        return ParameterResult(
            score=1.0,
            rationale=f"The report shows no evidence of {what}; scored the minimum.",
            evidence=(),
            missing=missing + tuple(f"No evidence of {name}" for name in absent[:3]),
            retrieved=retrieved,
            value=0.0,
        )
    met = sum(1 for m in matches if m.met)
    parts = []
    if matches:
        parts.append(f"shows {met} of {len(matches)} brief requirements for {what}")
    if signals:
        shown = ", ".join(sorted(n.replace("_", " ") for n in found)) or "none"
        parts.append(f"evidence of {shown}")
    rationale = "The report " + "; ".join(parts) + "."
    return ParameterResult(
        score=fine_score(value),
        rationale=rationale,
        evidence=evidence,
        missing=missing + tuple(f"No evidence of {name}" for name in absent[:3]),
        retrieved=retrieved,
        value=round(value, 4),
        details={
            "requirements_met": [met, len(matches)],
            "signals": sorted(found),
            "coverage": round(coverage, 4),
        },
    )


def score_correctness(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    return _score_with(ctx, param, (), 0.0, "implemented functionality")


def score_code_quality(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    return _score_with(ctx, param, CODE_QUALITY, 0.5, "code quality and structure")


def score_resilience(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    return _score_with(ctx, param, RESILIENCE, 0.5, "resilience and error handling")


def score_documentation(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    return _score_with(ctx, param, DOCUMENTATION, 0.5, "documentation and explanation")


def score_creativity(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    return _score_with(ctx, param, CREATIVITY, 0.6, "extras beyond the brief")


PROJECT_SCORERS: dict[str, Scorer] = {
    "correctness": score_correctness,
    "code_quality": score_code_quality,
    "resilience": score_resilience,
    "documentation": score_documentation,
    "creativity": score_creativity,
}
