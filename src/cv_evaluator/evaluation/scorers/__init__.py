"""Parameter scorers: a dedicated one per known rubric key, the generic one for any other key."""

from __future__ import annotations

from collections.abc import Mapping

from cv_evaluator.evaluation.scorers.achievements import score_achievements
from cv_evaluator.evaluation.scorers.collaboration import score_collaboration
from cv_evaluator.evaluation.scorers.experience import score_experience
from cv_evaluator.evaluation.scorers.generic import score_generic
from cv_evaluator.evaluation.scorers.project import PROJECT_SCORERS
from cv_evaluator.evaluation.scorers.technical import score_technical_skills
from cv_evaluator.evaluation.scoring import Scorer

__all__ = ["DEDICATED", "scorer_for"]

DEDICATED: Mapping[str, Scorer] = {
    "technical_skills": score_technical_skills,
    "experience_level": score_experience,
    "relevant_achievements": score_achievements,
    "cultural_fit": score_collaboration,
    **PROJECT_SCORERS,
}


def scorer_for(key: str) -> tuple[str, Scorer]:
    """The scorer for a rubric key and its name (recorded in the receipt)."""
    dedicated = DEDICATED.get(key)
    if dedicated is not None:
        return key, dedicated
    return "generic", score_generic
