"""Tokens with offsets, stems and stop words: the one vocabulary every other module shares.

Offsets are kept so evidence can be quoted from the original text instead of reconstructed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cv_evaluator.evaluation.stemming import stem

__all__ = [
    "GENERIC_WORDS",
    "STOPWORDS",
    "Token",
    "content_terms",
    "normalize",
    "term",
    "tokenize",
]

# ``.net``/``node.js``/``c++``/``c#`` stay one token; hyphens and slashes split ("ci/cd" -> ci, cd)
# so phrases written either way meet on the same token sequence.
_TOKEN_RE = re.compile(r"(?:(?<![\w.])\.(?=[^\W_]))?[^\W_]+(?:\.[^\W_]+)*[+#]*")

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    either etc few for from further had has have having he her here hers herself him himself
    his how i if in into is it its itself just least less let may me might more most much
    must my myself no nor not of off on once only or other our ours ourselves out over own
    per same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up upon us very via was we were what
    when where which while who whom why will with within without would yet you your yours
    yourself yourselves e g eg ie i.e e.g s t via well like including include includes etc
    within across among
    """.split()  # noqa: SIM905
)

# Words that say how much of something a requirement wants rather than what it is: they still
# count, but far less than the thing itself ("strong PostgreSQL skills" is about PostgreSQL).
GENERIC_WORDS = frozenset(
    stem(word)
    for word in """
    ability abilities able advanced adept background basic capability capable comprehensive
    competence competency competent demonstrated desired deep effective effectively
    excellent exceptional experience experienced expert expertise extensive familiar
    familiarity good great hands high highly in-depth depth knowledge knowledgeable level
    minimum plus preferred proficiency proficient proven related relevant required
    requirement robust skill skills skilled solid sound strong superior thorough
    understanding working year years outstanding superb ideal ideally candidate role must
    need needs preferably using use used new various work works worked job position company
    ensure ensuring provide providing responsible responsibilities sharp steep keen broad wide
    vast significant considerable exemplary impeccable remarkable stellar top best aptitude
    talent mastery command grasp fluency competently efficiently successfully consistently
    demonstrable practical prior previous least more serve served serving having shown show
    sustained capacity expert-level seasoned professional
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # lower-cased surface form
    start: int
    end: int

    @property
    def term(self) -> str:
        return term(self.text)


_FOLD = {"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2019": "'", "\u2018": "'"}


def _fold(ch: str) -> str:
    if ch in _FOLD:
        return _FOLD[ch]
    if ch.isascii():
        return ch
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) == 1 else ch


def normalize(text: str) -> str:
    """Fold full-width letters, dashes and quotes character by character.

    The result has exactly the length of the input, so an offset found in the normalised text
    quotes the original document; that is what lets evidence be verified against the source.
    """
    if text.isascii():
        return text
    return "".join(_fold(ch) for ch in text)


@lru_cache(maxsize=16_384)
def tokenize(text: str) -> tuple[Token, ...]:
    return tuple(
        Token(match.group(0).lower(), match.start(), match.end())
        for match in _TOKEN_RE.finditer(text)
    )


def term(token: str) -> str:
    """The matching key of a token: its stem, or the token itself when it is not a plain word."""
    return stem(token)


def content_terms(text: str) -> list[str]:
    """Stems of the tokens that carry meaning (no stop words, no lone characters)."""
    out: list[str] = []
    for token in tokenize(text):
        if token.text in STOPWORDS or (len(token.text) == 1 and not token.text.isdigit()):
            continue
        out.append(term(token.text))
    return out
