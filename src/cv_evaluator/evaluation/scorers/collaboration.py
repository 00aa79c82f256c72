"""Cultural and collaboration fit: communication, teamwork, mentoring, learning — shown, not listed.

Two parts: the job description's own collaboration and values requirements, retrieved for this
parameter and matched against the CV (they weigh most), and the collaboration signals the CV
shows in sentences about work (a signal only named in a list counts half). Only the kinds of
collaboration the job description mentions count as signals (every kind when it mentions
none): fit is fit with this job, and signals the job does not ask for vary between two
write-ups of the same career without saying anything about it.
"""

from __future__ import annotations

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.matching import match_requirement
from cv_evaluator.evaluation.requirements import RequirementKind, parameter_query
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, fine_score, shorten
from cv_evaluator.evaluation.signals import COLLABORATION, Signal, find_signals, phrase_keys

__all__ = ["score_collaboration"]

SIGNALS_FOR_TOP = 4.0  # distinct kinds of collaboration evidence for the top of the scale
RETRIEVE_K = 4
SIGNAL_SHARE = 0.4  # the rest is the job's own collaboration and values requirements
_CORE = ("communication", "teamwork", "mentoring", "learning")


def _asked(ctx: ScoreContext) -> frozenset[str]:
    """The kinds of collaboration the job description mentions, or every kind if it names none."""
    keys = [r.keys | r.skills for r in ctx.corpus.job if r.kind is not RequirementKind.RUBRIC]
    asked = frozenset(
        signal.name for signal in COLLABORATION if any(_names(signal, k) for k in keys)
    )
    return asked or frozenset(signal.name for signal in COLLABORATION)


def _names(signal: Signal, keys: frozenset[str]) -> bool:
    for phrase in signal.phrases:
        skills, words = phrase_keys(phrase)
        if (skills and skills <= keys) or (words and words <= keys):
            return True
    return False


def score_collaboration(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    document = ctx.cv
    asked = _asked(ctx)
    signals = [signal for signal in COLLABORATION if signal.name in asked]
    shown = find_signals(document, signals, include_listed=False)
    listed = find_signals(document, signals)
    strength = dict.fromkeys(shown, 1.0)
    for name in listed:
        strength.setdefault(name, 0.5)
    signal_value = min(1.0, sum(strength.values()) / SIGNALS_FOR_TOP)

    query = parameter_query(param)
    retrieved = tuple(ctx.corpus.retrieve(query, ["job_description"], RETRIEVE_K))
    matches = [match_requirement(req, document) for req, _ in retrieved]
    req_value = sum(m.credit for m in matches) / len(matches) if matches else 0.0
    if matches:
        value = SIGNAL_SHARE * signal_value + (1 - SIGNAL_SHARE) * req_value
    else:
        value = signal_value

    quotes = [quote(document, hits[0].segment) for hits in shown.values()]
    quotes += [quote(document, m.segment, m.matched) for m in matches if m.met and m.segment]
    # a signal only listed counts half, so its line is evidence too: otherwise a CV whose
    # collaboration sits only in its skills list has a value but no evidence, and scores the
    # minimum like a CV that shows none
    quotes += [quote(document, hits[0].segment) for n, hits in listed.items() if n not in shown]
    evidence = verified(quotes, document.text, limit=4)
    missing = [shorten(m.requirement.text) for m in matches if not m.met]
    missing += [f"No evidence of {n}" for n in _CORE if n in asked and n not in strength]
    if not evidence or value <= 0:
        return ParameterResult(
            score=1.0,
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
    if matches:
        met = sum(1 for m in matches if m.met)
        rationale += f"; it meets {met} of {len(matches)} of the job's related requirements"
    rationale += "."
    return ParameterResult(
        score=fine_score(value),
        rationale=rationale,
        evidence=evidence,
        missing=tuple(missing),
        retrieved=retrieved,
        value=round(value, 4),
        details={
            "signals": {n: strength[n] for n in names},
            "signals_asked": sorted(asked),
            "signal_value": round(signal_value, 4),
            "requirement_value": round(req_value, 4) if matches else None,
        },
    )
