"""The scorer for rubric parameters nobody wrote a dedicated scorer for.

It reads the parameter as a question: the label, description and top guidance become a query;
the query retrieves the reference requirements that matter for it (RAG over the job description
or brief) and the candidate passages that answer it; the score is how much of that the candidate
document covers. It never returns a constant: no evidence means the minimum, said out loud.
"""

from __future__ import annotations

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.chunking import Chunk, ChunkKind
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.matching import match_requirement
from cv_evaluator.evaluation.requirements import Requirement, RequirementKind, Unit, parameter_query
from cv_evaluator.evaluation.retrieval import Bm25Index
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, fine_score, shorten

__all__ = ["score_generic"]

RETRIEVE_K = 6
PASSAGES_K = 3


def _query_requirement(param: RubricParameter, query: dict[str, float]) -> Requirement:
    text = f"{param.label}: {param.description}"
    chunk = Chunk(
        f"rubric-{param.key}-query", "rubric", param.key, ChunkKind.SENTENCE, text, 0, 0, 0
    )
    units = tuple(
        Unit(frozenset({key}), weight)
        for key, weight in sorted(query.items())
        if weight >= 0.5  # words such as "strong" or "experience" do not make a question
    )
    return Requirement(chunk, RequirementKind.RUBRIC, 1.0, dict(query), frozenset(), units)


def score_generic(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    document = ctx.document(param)
    query = parameter_query(param)
    retrieved = ctx.corpus.retrieve(query, [ctx.reference_source(param)], RETRIEVE_K)
    if not document.segments:
        return ParameterResult(
            score=1.0,
            rationale=f"No scorable text in the {document.name}; {param.label.lower()} "
            "scored the minimum.",
            evidence=(),
            missing=tuple(shorten(req.text) for req, _ in retrieved),
            retrieved=tuple(retrieved),
            value=0.0,
        )

    # Requirements retrieved for this parameter, weighted by how relevant they are to it.
    top = max((score for _, score in retrieved), default=0.0)
    matches = [(match_requirement(req, document), score / top) for req, score in retrieved]
    req_mass = sum(rel for _, rel in matches)
    req_cover = sum(m.credit * rel for m, rel in matches) / req_mass if req_mass else 0.0

    # The parameter's own words, looked for in the passages that answer them best.
    index = Bm25Index([list(segment.terms) for segment in document.segments])
    hits = index.search(query, PASSAGES_K)
    passages = [document.segments[hit.index] for hit in hits]
    direct = match_requirement(_query_requirement(param, query), document, passages)
    direct_cover = min(1.0, direct.satisfaction / 0.5)  # half the question's words is plenty

    value = 0.5 * req_cover + 0.5 * direct_cover if matches else direct_cover
    quotes = [quote(document, m.segment, m.matched) for m, _ in matches if m.met and m.segment]
    if direct.segment is not None and direct.satisfaction > 0:
        quotes.insert(0, quote(document, direct.segment, direct.matched))
    evidence = verified(quotes, document.text)
    missing = tuple(shorten(m.requirement.text) for m, _ in matches if not m.met)
    if not evidence:
        return ParameterResult(
            score=1.0,
            rationale=f"No evidence of {param.label.lower()} found in the {document.name}; "
            "scored the minimum.",
            evidence=(),
            missing=missing,
            retrieved=tuple(retrieved),
            value=0.0,
        )
    score = fine_score(value)
    met = sum(1 for m, _ in matches if m.met)
    rationale = (
        f"{param.label}: the {document.name} addresses {met} of {len(matches)} related "
        f"requirements and {round(direct.satisfaction * 100)}% of what the rubric describes."
    )
    return ParameterResult(
        score=score,
        rationale=rationale,
        evidence=evidence,
        missing=missing,
        retrieved=tuple(retrieved),
        value=round(value, 4),
        details={"requirement_coverage": round(req_cover, 4), "direct": round(direct_cover, 4)},
    )
