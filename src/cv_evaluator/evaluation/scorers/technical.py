"""Technical skills match: the job's requirements, one by one, against what the CV shows.

Each job-description requirement (required, responsibilities, nice-to-have, weighted in that
order) is matched against the CV's passages; a skill shown in a sentence about work counts more
than the same skill in a bare list. The value is the weighted share of requirements met, and the
requirements that are not met are named.
"""

from __future__ import annotations

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.matching import RequirementMatch, match_requirement
from cv_evaluator.evaluation.requirements import Requirement, RequirementKind, parameter_query
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, fine_score, shorten

__all__ = ["SKILL_KINDS", "score_technical_skills", "skill_requirements"]

SKILL_KINDS = (RequirementKind.REQUIRED, RequirementKind.NICE, RequirementKind.RESPONSIBILITY)


def skill_requirements(ctx: ScoreContext) -> list[Requirement]:
    reqs = [req for req in ctx.corpus.job if req.kind in SKILL_KINDS]
    if reqs:
        return reqs
    # A job description without recognisable sections: every sentence is a requirement.
    return [req for req in ctx.corpus.job if req.kind is not RequirementKind.TITLE]


def _label(match: RequirementMatch) -> str:
    text = shorten(match.requirement.text)
    return f"{text} (nice to have)" if match.requirement.kind is RequirementKind.NICE else text


def score_technical_skills(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    document = ctx.cv
    reqs = skill_requirements(ctx)
    query = parameter_query(param)
    retrieved = tuple((req, ctx.corpus.relevance(query, req)) for req in reqs)
    matches = [match_requirement(req, document) for req in reqs]
    total = sum(m.requirement.weight for m in matches)
    if not matches or total <= 0:
        return ParameterResult(
            score=1.0,
            rationale="The job description states no requirements to match; scored the minimum.",
            evidence=(),
            missing=(),
            retrieved=retrieved,
            value=0.0,
        )
    value = sum(m.requirement.weight * m.credit for m in matches) / total

    def count(kind: RequirementKind) -> tuple[int, int]:
        of_kind = [m for m in matches if m.requirement.kind is kind]
        return sum(1 for m in of_kind if m.met), len(of_kind)

    met_required, n_required = count(RequirementKind.REQUIRED)
    met_nice, n_nice = count(RequirementKind.NICE)
    met_resp, n_resp = count(RequirementKind.RESPONSIBILITY)
    listed_only = sum(1 for m in matches if m.met and m.segment is not None and m.segment.listed)

    # met requirements first, then partly shown ones: both are what the score rests on
    ranked = sorted(
        (m for m in matches if m.credit > 0 and m.segment is not None),
        key=lambda m: (
            not m.met,
            -m.requirement.weight,
            m.segment.listed if m.segment else True,
            -m.satisfaction,
            m.requirement.chunk.index,
        ),
    )
    evidence = verified(
        (quote(document, m.segment, m.matched) for m in ranked if m.segment is not None),
        document.text,
        limit=4,
    )
    unmet = sorted(
        (m for m in matches if not m.met),
        key=lambda m: (-m.requirement.weight, m.requirement.chunk.index),
    )
    # a skill named by a requirement the CV otherwise meets is still a gap, and named as one
    partly = dict.fromkeys(
        f"{name} (named in a requirement the CV otherwise meets)"
        for m in matches
        if m.met
        for name in m.unshown
    )
    missing = tuple(_label(m) for m in unmet) + tuple(partly)
    if not evidence:
        return ParameterResult(
            score=1.0,
            rationale="No evidence in the CV of the skills the job description asks for; "
            "scored the minimum.",
            evidence=(),
            missing=missing,
            retrieved=retrieved,
            value=0.0,
            details={"required_met": [0, n_required]},
        )
    parts = []
    if n_required:
        parts.append(f"{met_required} of {n_required} required skills")
    if n_resp:
        parts.append(f"{met_resp} of {n_resp} responsibilities")
    if n_nice:
        parts.append(f"{met_nice} of {n_nice} nice-to-haves")
    listed = f", {listed_only} of them only listed rather than shown in work" if listed_only else ""
    rationale = f"The CV shows {', '.join(parts)}{listed}."
    return ParameterResult(
        score=fine_score(value),
        rationale=rationale,
        evidence=evidence,
        missing=missing,
        retrieved=retrieved,
        value=round(value, 4),
        details={
            "required_met": [met_required, n_required],
            "responsibilities_met": [met_resp, n_resp],
            "nice_met": [met_nice, n_nice],
            "listed_only": listed_only,
        },
    )
