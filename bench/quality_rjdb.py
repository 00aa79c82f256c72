"""Judgment on resume/job-description pairs in the rjdb format (megagonlabs/rjdb).

Each row holds a job description, a resume written to match it, and a weaker variant of that
resume (some required skills removed, one job shortened; the removed skills are listed in
``Filtered-information``). Four figures:

* ``pairwise_accuracy``: the matched resume's ``cv_match_rate`` is above the weaker one's
  (ties count half).
* ``length_controlled_accuracy``: the same after padding the weaker resume with neutral,
  irrelevant sentences up to the matched resume's length, so length alone cannot win.
* ``cross_accuracy``: a resume scored against its own job description beats a resume written for
  another row's job description (three fixed offsets per row; ties count half).
* ``gap_recall``: share of removed skills the evaluator names among the weaker CV's missing
  requirements. ``gap_false_alarm`` is the same check on the matched CV, which still has them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cv_evaluator.domain.evaluation import (
    CandidateDocument,
    EvaluationOutcome,
    EvaluationRequest,
    RubricGroup,
)
from cv_evaluator.evaluation import (
    LocalEvaluator,
    default_case_study_brief,
    default_rubric,
    reference_document,
)
from cv_evaluator.evaluation.analysis import profile
from cv_evaluator.evaluation.text import GENERIC_WORDS

__all__ = ["NEUTRAL_SENTENCES", "RjdbRow", "evaluate_rows", "load_rows", "pad"]

CROSS_OFFSETS = (1, 7, 31)

# Neutral, irrelevant padding: no skills, no employers, no dates, no numbers, no achievements.
NEUTRAL_SENTENCES = (
    "The office building has a small garden in the courtyard.",
    "Mornings in the city are usually quiet before nine o'clock.",
    "The nearest train station is a short walk from the main street.",
    "Spring weather in the region is often mild and changeable.",
    "The local library opens on weekdays and on Saturday mornings.",
    "Tea and coffee are both popular in the neighbourhood cafés.",
    "The river that runs through town freezes only in very cold winters.",
    "Street names in the old quarter are written on blue signs.",
    "Bicycles are a common sight on the wide avenues.",
    "The market square is busiest on Sunday afternoons.",
)

# A fixed, short project report: the bench measures the CV side, the project side only has to run.
_PROJECT = CandidateDocument(
    text="# Report\n\nA small service with an upload endpoint, a README and a few tests.\n",
    media_type="text/markdown",
)


@dataclass(frozen=True, slots=True)
class RjdbRow:
    job_description: str
    matched: str
    unmatched: str
    removed_skills: tuple[str, ...]


def load_rows(path: Path) -> list[RjdbRow]:
    rows: list[RjdbRow] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            raw = json.loads(line)
            filtered = raw.get("Filtered-information") or {}
            rows.append(
                RjdbRow(
                    job_description=str(raw["Job-Description"]),
                    matched=str(raw["Resume-matched"]),
                    unmatched=str(raw["Resume-unmatched"]),
                    removed_skills=tuple(str(s) for s in filtered.get("Skills") or ()),
                )
            )
    return rows


def pad(text: str, target_chars: int, offset: int = 0) -> str:
    """``text`` followed by neutral sentences until it is at least ``target_chars`` long."""
    if len(text) >= target_chars:
        return text
    pieces = [text.rstrip(), "\n\n"]
    length = sum(len(p) for p in pieces)
    i = offset
    while length < target_chars:
        sentence = NEUTRAL_SENTENCES[i % len(NEUTRAL_SENTENCES)] + " "
        pieces.append(sentence)
        length += len(sentence)
        i += 1
    return "".join(pieces).rstrip() + "\n"


_SKILL_NOISE = frozenset({*GENERIC_WORDS, "skill", "knowledg", "abil"})


def _key_terms(text: str) -> set[str]:
    return {t for t in profile(text).terms if t not in _SKILL_NOISE} or set(profile(text).terms)


def named(skill: str, missing: Iterable[str]) -> bool:
    """Whether a removed skill is named by one of the missing requirements.

    Named means at least half of the skill's key terms (stems, synonyms and lexicon skills, with
    generic words such as "skills" or "knowledge" left out) occur in one missing item.
    """
    wanted = _key_terms(skill)
    if not wanted:
        return False
    for item in missing:
        have = set(profile(item).terms)
        if len(wanted & have) / len(wanted) >= 0.5:
            return True
    return False


def _cv_missing(outcome: EvaluationOutcome) -> list[str]:
    return [m for item in outcome.breakdown if item.group is RubricGroup.CV for m in item.missing]


def _compare(a: float, b: float) -> float:
    return 1.0 if a > b else 0.5 if a == b else 0.0


def evaluate_rows(
    rows: Sequence[RjdbRow], evaluator: LocalEvaluator | None = None
) -> dict[str, Any]:
    evaluator = evaluator or LocalEvaluator()
    rubric = default_rubric()
    brief = default_case_study_brief()

    def run(cv: str, job: Any) -> EvaluationOutcome:
        request = EvaluationRequest(
            cv=CandidateDocument(text=cv, media_type="text/markdown"),
            project=_PROJECT,
            job_description=job,
            study_case_brief=brief,
            rubric=rubric,
        )
        return evaluator.evaluate_sync(request)

    started = time.perf_counter()
    jobs = [reference_document("job_description", row.job_description, "request") for row in rows]
    matched = [run(row.matched, job) for row, job in zip(rows, jobs, strict=True)]
    unmatched = [run(row.unmatched, job) for row, job in zip(rows, jobs, strict=True)]
    padded = [
        run(pad(row.unmatched, len(row.matched), i), job)
        for i, (row, job) in enumerate(zip(rows, jobs, strict=True))
    ]

    pairwise = [
        _compare(m.cv_match_rate, u.cv_match_rate) for m, u in zip(matched, unmatched, strict=True)
    ]
    length = [
        _compare(m.cv_match_rate, p.cv_match_rate) for m, p in zip(matched, padded, strict=True)
    ]

    cross: list[float] = []
    n = len(rows)
    offsets = [o for o in CROSS_OFFSETS if n > 1 and o % n]
    for i, job in enumerate(jobs):
        for offset in offsets:
            other = rows[(i + offset) % n]
            cross.append(_compare(matched[i].cv_match_rate, run(other.matched, job).cv_match_rate))

    removed = 0
    recalled = 0
    false_alarm = 0
    for row, m, u in zip(rows, matched, unmatched, strict=True):
        weak_missing = _cv_missing(u)
        strong_missing = _cv_missing(m)
        for skill in row.removed_skills:
            removed += 1
            recalled += named(skill, weak_missing)
            false_alarm += named(skill, strong_missing)

    def mean(values: Sequence[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    ties = sum(1 for v in pairwise if v == 0.5)
    return {
        "rows": n,
        "pairwise_accuracy": mean(pairwise),
        "length_controlled_accuracy": mean(length),
        "cross_accuracy": mean(cross),
        "gap_recall": round(recalled / removed, 4) if removed else 0.0,
        "gap_false_alarm": round(false_alarm / removed, 4) if removed else 0.0,
        "pairwise_ties": ties,
        "pairwise_wrong": sum(1 for v in pairwise if v == 0.0),
        "cross_pairs": len(cross),
        "removed_skills": removed,
        "mean_cv_match_rate": {
            "matched": mean([m.cv_match_rate for m in matched]),
            "unmatched": mean([u.cv_match_rate for u in unmatched]),
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
