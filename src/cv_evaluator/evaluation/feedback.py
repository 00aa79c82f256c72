"""Feedback and the overall summary, written from the evidence and nothing else.

Every sentence is assembled from the breakdown: named strengths come from parameters that scored
well and have quotes, named gaps from the requirements that were not met. Nothing is said that
the breakdown cannot back.
"""

from __future__ import annotations

from collections.abc import Sequence

from cv_evaluator.domain.evaluation import Flag, ParameterScore
from cv_evaluator.evaluation.scoring import guidance_level

__all__ = ["group_feedback", "overall_summary", "recommendation"]

_MANIPULATION = ("prompt_injection_attempt", "keyword_stuffing", "hidden_text")


def _join(items: Sequence[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _clip(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split()).rstrip(".")
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > 0 else limit - 1].rstrip(",;:-") + "…"


def _by_strength(scores: Sequence[ParameterScore]) -> list[ParameterScore]:
    return sorted(scores, key=lambda s: (-s.score, -s.weight, s.key))


def group_feedback(scores: Sequence[ParameterScore], document: str) -> str:
    """One to three sentences: strengths with a quote, gaps by name, or the lack of evidence."""
    if not scores:
        return f"No {document} parameters were scored."
    strong = [s for s in _by_strength(scores) if guidance_level(s.score) >= 4 and s.evidence]
    weak = sorted(
        (s for s in scores if guidance_level(s.score) <= 3),
        key=lambda s: (s.score, -s.weight, s.key),
    )
    sentences: list[str] = []
    if strong:
        best = strong[0]
        names = _join([s.label.lower() for s in strong[:3]])
        sentences.append(
            f"Strongest on {names}, for example: \u201c{_clip(best.evidence[0])}\u201d."
        )
    elif all(not s.evidence for s in scores):
        sentences.append(f"The {document} gives no evidence for any rubric parameter.")
    else:
        mid = _by_strength(scores)[0]
        sentences.append(
            f"No parameter is clearly strong; the best is {mid.label.lower()} ({mid.score:.1f}/5)."
        )
    if weak:
        gaps: list[str] = []
        for item in weak:
            for gap in item.missing[:2]:
                clipped = _clip(gap.split(" (found")[0], 70)
                if clipped not in gaps:
                    gaps.append(clipped)
            if len(gaps) >= 3:
                break
        labels = _join([f"{s.label.lower()} ({s.score:.1f}/5)" for s in weak[:3]])
        if gaps:
            sentences.append(f"Weaker on {labels}; not shown: {'; '.join(gaps[:3])}.")
        else:
            sentences.append(f"Weaker on {labels}.")
    return " ".join(sentences[:3])


def recommendation(cv_match_rate: float, project_score: float, flags: Sequence[Flag]) -> str:
    combined = 0.5 * cv_match_rate + 0.5 * (project_score / 10)
    if combined >= 0.75:
        verdict = "Recommendation: a strong fit; advance to interview."
    elif combined >= 0.55:
        verdict = "Recommendation: a possible fit; advance if the named gaps can be probed."
    else:
        verdict = "Recommendation: not a fit for this role on the evidence given."
    if any(flag.code in _MANIPULATION for flag in flags):
        verdict += " Manipulation was detected, so a person should review the documents."
    return verdict


def overall_summary(
    cv_match_rate: float,
    project_score: float,
    cv: Sequence[ParameterScore],
    project: Sequence[ParameterScore],
    flags: Sequence[Flag],
) -> str:
    """Three to five sentences: the figures, the strongest and weakest points, the verdict."""
    sentences = [
        f"The CV matches the job description at {round(cv_match_rate * 100)}% and the "
        f"project report scores {project_score:.1f} out of 10."
    ]
    everything = [*cv, *project]
    strong = [s for s in _by_strength(everything) if guidance_level(s.score) >= 4]
    weak = sorted(
        (s for s in everything if guidance_level(s.score) <= 2),
        key=lambda s: (s.score, -s.weight, s.key),
    )
    if strong:
        sentences.append(f"Strengths: {_join([s.label.lower() for s in strong[:3]])}.")
    else:
        sentences.append("No rubric parameter reaches a strong score.")
    if weak:
        missing = [m for s in weak for m in s.missing[:1]]
        detail = f" (for example: {_clip(missing[0], 80)})" if missing else ""
        sentences.append(f"Gaps: {_join([s.label.lower() for s in weak[:3]])}{detail}.")
    else:
        sentences.append("No parameter falls below an average score.")
    codes = sorted({flag.code for flag in flags})
    if codes:
        sentences.append(f"Flags raised: {', '.join(codes)}.")
    sentences.append(recommendation(cv_match_rate, project_score, flags))
    return " ".join(sentences[:5])
