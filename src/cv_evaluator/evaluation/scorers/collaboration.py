"""Cultural and collaboration fit: communication, teamwork, mentoring, learning — shown, not listed.

Two halves: the collaboration signals the CV shows in sentences about work (a signal only named in
a list counts half), and the job description's own collaboration and values requirements,
retrieved for this parameter and matched against the CV.
"""

from __future__ import annotations

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.matching import match_requirement
from cv_evaluator.evaluation.requirements import parameter_query
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, level, shorten
from cv_evaluator.evaluation.signals import COLLABORATION, find_signals

__all__ = ["score_collaboration"]

SIGNALS_FOR_TOP = 4.0  # distinct kinds of collaboration evidence for the top of the scale
RETRIEVE_K = 4
_CORE = ("communication", "teamwork", "mentoring", "learning")


def score_collaboration(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    document = ctx.cv
    shown = find_signals(document, COLLABORATION, include_listed=False)
    listed = find_signals(document, COLLABORATION)
    strength = dict.fromkeys(shown, 1.0)
    for name in listed:
        strength.setdefault(name, 0.5)
    signal_value = min(1.0, sum(strength.values()) / SIGNALS_FOR_TOP)

    query = parameter_query(param)
    retrieved = tuple(ctx.corpus.retrieve(query, ["job_description"], RETRIEVE_K))
    matches = [match_requirement(req, document) for req, _ in retrieved]
    if matches:
        # the job's own words about collaboration and values weigh more than generic signals
        req_value = sum(m.credit for m in matches) / len(matches)
        value = 0.4 * signal_value + 0.6 * req_value
    else:
        value = signal_value

    quotes = [quote(document, hits[0].segment) for hits in shown.values()]
    quotes += [quote(document, m.segment, m.matched) for m in matches if m.met and m.segment]
    evidence = verified(quotes, document.text, limit=4)
    missing = [shorten(m.requirement.text) for m in matches if not m.met]
    missing += [f"No evidence of {name}" for name in _CORE if name not in strength]
    if not evidence or value <= 0:
        return ParameterResult(
            score=1,
            rationale="No communication, teamwork, mentoring or learning shown in the CV; "
            "scored the minimum.",
            evidence=(),
            missing=tuple(missing),
            retrieved=retrieved,
            value=0.0,
        )
    names = sorted(strength, key=lambda n: (-strength[n], n))
    only_listed = [n for n in names if strength[n] < 1.0]
    shown_names = ", ".join(n for n in names if strength[n] >= 1.0) or "no signal"
    rationale = f"The CV shows {shown_names} in its work"
    if only_listed:
        rationale += f" and only lists {', '.join(only_listed)}"
    rationale += "."
    return ParameterResult(
        score=level(value),
        rationale=rationale,
        evidence=evidence,
        missing=tuple(missing),
        retrieved=retrieved,
        value=round(value, 4),
        details={"signals": {n: strength[n] for n in names}},
    )
