"""A candidate document made ready for scoring: segmented, typed, analysed, de-manipulated.

Only ``CandidateDocument.text`` is ever scored; hidden text (already cut out by ingestion) and
spans judged manipulative are reported as flags and contribute nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cv_evaluator.domain.evaluation import CandidateDocument, Flag
from cv_evaluator.evaluation.analysis import SKILL_PREFIX, candidate_terms, term_weight
from cv_evaluator.evaluation.chunking import Chunk, ChunkKind, chunk_document
from cv_evaluator.evaluation.manipulation import (
    Exclusion,
    find_injections,
    find_stuffing,
    guess_language,
)
from cv_evaluator.evaluation.negation import is_negated
from cv_evaluator.evaluation.sections import CvSection, classify_cv_section, cv_section_of
from cv_evaluator.evaluation.text import normalize, tokenize

__all__ = ["PreparedDocument", "Segment", "prepare"]

_VERB_HINT_SUFFIXES = ("ed", "ing")
_CONTEXT_MIN_TOKENS = 6


@dataclass(frozen=True, slots=True)
class Segment:
    chunk: Chunk
    section: CvSection
    terms: frozenset[str]
    skills: frozenset[str]
    listed: bool  # a bare list entry ("Python, Django") rather than a sentence about work
    word_mass: float = 0.0  # weight of its ordinary words, for how focused a passage is
    negated: bool = False  # says something was not done ("retries are not implemented yet")
    section_key: tuple[str, ...] = ()  # the headings down to the one that names its section

    @property
    def text(self) -> str:
        return self.chunk.text


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    name: str  # "cv" | "project"
    text: str  # the original text: quotes are cut from it at segment offsets
    segments: tuple[Segment, ...]
    exclusions: tuple[Exclusion, ...]
    flags: tuple[Flag, ...]
    language: str
    token_count: int
    postings: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # term -> segments

    def candidates(self, keys: Iterable[str]) -> list[int]:
        """Positions of the segments holding at least one of ``keys``, in document order."""
        found: set[int] = set()
        for key in keys:
            found.update(self.postings.get(key, ()))
        return sorted(found)

    @property
    def terms(self) -> frozenset[str]:
        out: set[str] = set()
        for segment in self.segments:
            out |= segment.terms
        return frozenset(out)

    def quote(self, start: int, end: int) -> str:
        return self.text[start:end]


def _is_listed(chunk: Chunk, section: CvSection) -> bool:
    tokens = tokenize(chunk.text)
    if section is CvSection.SKILLS:
        return True
    if len(tokens) < _CONTEXT_MIN_TOKENS:
        return not any(t.text.endswith(_VERB_HINT_SUFFIXES) for t in tokens)
    separators = chunk.text.count(",") + chunk.text.count("|") + chunk.text.count(";")
    return separators >= 3 and len(tokens) / (separators + 1) <= 3.0


def _section_key(path: tuple[str, ...]) -> tuple[str, ...]:
    """Which section *instance* a passage is in: two "Experience" sections are two keys."""
    for depth in range(len(path), 0, -1):
        if classify_cv_section(path[depth - 1]) is not CvSection.OTHER:
            return path[:depth]
    return path[:1]


def _overlaps(chunk: Chunk, exclusions: tuple[Exclusion, ...]) -> bool:
    return any(chunk.start < ex.end and ex.start < chunk.end for ex in exclusions)


def _flag(code: str, document: str, message: str, **details: Any) -> Flag:
    return Flag(code=code, document=document, message=message, details=details)


def prepare(document: CandidateDocument, name: str) -> PreparedDocument:
    text = document.text
    normalized = normalize(text)
    chunks = chunk_document(normalized, name, prefix=name)
    injections = find_injections(normalized)
    stuffing = find_stuffing([c for c in chunks if not _overlaps(c, tuple(injections))], normalized)
    exclusions = tuple(sorted([*injections, *stuffing], key=lambda ex: (ex.start, ex.end)))

    segments: list[Segment] = []
    for chunk in chunks:
        if _overlaps(chunk, exclusions):
            continue
        if chunk.kind is ChunkKind.HEADING and (
            not chunk.path or classify_cv_section(chunk.text) is not CvSection.OTHER
        ):
            continue  # a section heading; entry titles ("### Engineer, Acme (2019-2021)") stay
        section = cv_section_of(chunk.path)
        terms = candidate_terms(chunk.text)
        skills = frozenset(k[len(SKILL_PREFIX) :] for k in terms if k.startswith(SKILL_PREFIX))
        segments.append(
            Segment(
                chunk=chunk,
                section=section,
                section_key=_section_key(chunk.path),
                terms=terms,
                skills=skills,
                listed=_is_listed(chunk, section),
                word_mass=sum(term_weight(k) for k in terms if not k.startswith(SKILL_PREFIX)),
                negated=is_negated(chunk.text),
            )
        )

    flags: list[Flag] = []
    if injections:
        flags.append(
            _flag(
                "prompt_injection_attempt",
                name,
                "Text addressed to the evaluator (instructions or score claims) was ignored.",
                count=len(injections),
                excerpts=[ex.excerpt for ex in injections[:3]],
            )
        )
    if stuffing:
        flags.append(
            _flag(
                "keyword_stuffing",
                name,
                "Keyword lists or repeated terms without supporting context were not scored.",
                count=len(stuffing),
                excerpts=[ex.excerpt for ex in stuffing[:3]],
            )
        )
    if "hidden_text" in document.warnings or document.hidden_text.strip():
        hidden = document.hidden_text
        flags.append(
            _flag(
                "hidden_text",
                name,
                "The file contains text a reader would not see; it was not scored.",
                characters=len(hidden),
                contains_injection=bool(find_injections(normalize(hidden))),
                excerpt=hidden.strip()[:160],
            )
        )
    for warning in document.warnings:
        if warning != "hidden_text":
            flags.append(_flag(warning, name, f"Extraction warning: {warning}."))
    language, share = guess_language(normalized)
    if language not in {"en", "unknown"}:
        flags.append(
            _flag(
                "non_english",
                name,
                "The document does not appear to be in English; it was evaluated as far as "
                "possible and scores may understate it.",
                language=language,
                english_marker_share=round(share, 3),
            )
        )
    postings: dict[str, list[int]] = {}
    for position, segment in enumerate(segments):
        for key in segment.terms:
            postings.setdefault(key, []).append(position)
    return PreparedDocument(
        name=name,
        text=text,
        segments=tuple(segments),
        exclusions=exclusions,
        flags=tuple(flags),
        language=language,
        token_count=len(tokenize(normalized)),
        postings={key: tuple(positions) for key, positions in postings.items()},
    )
