"""Text → matching terms: stems of content words, synonyms folded, lexicon skills added.

Queries, requirements and candidate text all go through ``terms_of`` so they meet on the same
keys: "Postgres" and "PostgreSQL" both yield ``@postgresql``; "mentoring" and "mentored" both
yield ``mentor``.
"""

from __future__ import annotations

from functools import lru_cache

from cv_evaluator.evaluation.lexicon import SkillMatch, find_skills, lexicon
from cv_evaluator.evaluation.text import GENERIC_WORDS, STOPWORDS, normalize, term, tokenize

__all__ = [
    "SKILL_PREFIX",
    "TermProfile",
    "candidate_terms",
    "fold_term",
    "profile",
    "term_weight",
]

SKILL_PREFIX = "@"

# Words that mean the same thing in CVs and job ads but share no stem. Kept small and general:
# anything technology-specific belongs in the lexicon's aliases instead.
_SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("teamwork", "collaboration", "collaborate", "collaborative", "cooperation"),
    ("communication", "communicate", "communicating", "communicator"),
    ("mentor", "mentoring", "coach", "coaching", "mentorship"),
    ("lead", "leader", "leadership", "led", "leading", "head"),
    ("build", "built", "develop", "implement", "create", "created"),
    ("test", "testing", "tests", "qa"),
    ("document", "documentation", "docs", "readme"),
    ("deploy", "deployment", "release", "ship", "shipped", "rollout"),
    ("organization", "organizational", "organise", "organisation", "organisational"),
    ("customer", "client"),
    ("patient", "patients"),
    ("analyze", "analyse", "analysis", "analytical", "analytics"),
    ("optimize", "optimise", "optimization", "optimisation"),
    ("problem", "troubleshoot", "troubleshooting", "debug", "debugging"),
    ("budget", "budgeting", "financial"),
    ("scheduling", "schedule", "schedules"),
    ("supervise", "supervision", "supervisor", "supervised", "oversee", "oversaw", "overseeing"),
    ("negotiate", "negotiation", "negotiating"),
    ("empathy", "empathetic", "compassion", "compassionate"),
    ("detail", "details", "meticulous", "thorough"),
    ("time", "deadline", "deadlines", "punctual"),
)


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in _SYNONYM_GROUPS:
        head = term(group[0])
        for word in group:
            table.setdefault(term(word), head)
    return table


def fold_term(stemmed: str) -> str:
    return _synonyms().get(stemmed, stemmed)


def term_weight(key: str) -> float:
    """How much a term says about what a requirement is about (generic words count little)."""
    if key.startswith(SKILL_PREFIX):
        return 2.0
    if key in _GENERIC_FOLDED:
        return 0.25
    if key.isdigit():
        return 0.3
    return 1.0


_GENERIC_FOLDED = frozenset(fold_term(word) for word in GENERIC_WORDS)


class TermProfile:
    """The terms of one text, with the skills the lexicon recognised and where."""

    __slots__ = ("skills", "terms")

    def __init__(self, terms: tuple[str, ...], skills: tuple[SkillMatch, ...]) -> None:
        self.terms = terms
        self.skills = skills

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.terms)


def _word_terms(text: str) -> list[str]:
    out: list[str] = []
    for token in tokenize(text):
        word = token.text
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
            continue
        out.append(fold_term(term(word)))
    return out


@lru_cache(maxsize=8192)
def profile(text: str) -> TermProfile:
    normalized = normalize(text)
    skills = tuple(find_skills(normalized))
    terms = _word_terms(normalized)
    terms.extend(SKILL_PREFIX + match.skill_id for match in skills)
    return TermProfile(tuple(terms), skills)


@lru_cache(maxsize=8192)
def candidate_terms(text: str) -> frozenset[str]:
    """A candidate passage's terms, with the broader skills its named skills show."""
    prof = profile(text)
    keys = set(prof.terms)
    lex = lexicon()
    for match in prof.skills:
        keys.update(SKILL_PREFIX + broader for broader in lex.broader(match.skill_id))
    return frozenset(keys)
