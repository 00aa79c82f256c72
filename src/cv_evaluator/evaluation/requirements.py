"""Reference documents (job description, brief, rubric) as weighted, indexed requirements.

Built per evaluation from the documents that job actually uses, so a job description sent with
the request is the one retrieved from. Every chunk keeps its id and text for the receipt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from cv_evaluator.domain.evaluation import ReferenceDocument, Rubric, RubricParameter
from cv_evaluator.evaluation.analysis import SKILL_PREFIX, profile, term_weight
from cv_evaluator.evaluation.chunking import Chunk, ChunkKind, chunk_document
from cv_evaluator.evaluation.retrieval import Bm25Index, Hit
from cv_evaluator.evaluation.sections import JobSection, job_section_of

__all__ = [
    "ReferenceCorpus",
    "Requirement",
    "RequirementKind",
    "Unit",
    "build_corpus",
    "make_requirement",
    "parameter_query",
]


class RequirementKind(StrEnum):
    REQUIRED = "required"
    NICE = "nice"
    RESPONSIBILITY = "responsibility"
    EXPERIENCE = "experience"
    CONTEXT = "context"  # summaries, values: background, not a checklist item
    TITLE = "title"
    RUBRIC = "rubric"


# How much a requirement counts toward coverage, by where the job ad put it.
KIND_WEIGHT: Mapping[RequirementKind, float] = {
    RequirementKind.REQUIRED: 1.0,
    RequirementKind.RESPONSIBILITY: 0.6,
    RequirementKind.NICE: 0.4,
    RequirementKind.EXPERIENCE: 1.0,
    RequirementKind.CONTEXT: 0.25,
    RequirementKind.TITLE: 0.5,
    RequirementKind.RUBRIC: 0.0,
}

_SECTION_KIND: Mapping[JobSection, RequirementKind] = {
    JobSection.TITLE: RequirementKind.TITLE,
    JobSection.SUMMARY: RequirementKind.CONTEXT,
    JobSection.REQUIRED: RequirementKind.REQUIRED,
    JobSection.NICE: RequirementKind.NICE,
    JobSection.RESPONSIBILITIES: RequirementKind.RESPONSIBILITY,
    JobSection.EXPERIENCE: RequirementKind.EXPERIENCE,
    JobSection.VALUES: RequirementKind.CONTEXT,
    JobSection.BENEFITS: RequirementKind.CONTEXT,
    JobSection.OTHER: RequirementKind.REQUIRED,
}

_INLINE_NICE = re.compile(
    r"\b(?:nice to have|a plus|is a plus|bonus|preferred|preferably|desirable|ideally|"
    r"would be (?:great|useful|nice|an advantage)|an advantage|optional)\b",
    re.IGNORECASE,
)
_SOURCE_PREFIX = {"job_description": "jd", "study_case_brief": "brief", "rubric": "rubric"}


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing a requirement asks for: a term, or alternatives ("PostgreSQL or MySQL")."""

    keys: frozenset[str]
    weight: float
    # one item of an enumeration ("core skills: Confidentiality, Initiative, Prioritization"):
    # the items are separate things, each may be shown in a different passage
    item: bool = False


@dataclass(frozen=True, slots=True)
class Requirement:
    chunk: Chunk
    kind: RequirementKind
    weight: float
    terms: Mapping[str, float]  # distinct key terms -> how much each says about the requirement
    skills: frozenset[str]
    units: tuple[Unit, ...]  # named skills (alternatives grouped) and the remaining words
    # The same requirement in words only, at full weight: if the lexicon names a skill one way
    # in the job ad and another way in the CV ("Spring framework" / "Spring Boot"), the words
    # still meet. The lexicon can only add matches, never lose one.
    word_units: tuple[Unit, ...] = ()

    @property
    def id(self) -> str:
        return self.chunk.id

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def mass(self) -> float:
        return sum(unit.weight for unit in self.units)

    @property
    def word_mass(self) -> float:
        return sum(unit.weight for unit in self.word_units)

    @property
    def keys(self) -> frozenset[str]:
        out: set[str] = set()
        for unit in (*self.units, *self.word_units):
            out |= unit.keys
        return frozenset(out)


# Skills named after these words, up to the end of the clause, are examples of one need.
_ALTERNATIVES = re.compile(
    r"(?:such as|e\.g\.?|for example|for instance|like|including|\()\s*(?P<body>[^.;()]+)",
    re.IGNORECASE,
)
_OR_JOIN = re.compile(r"^\s*(?:,|/|or|and/or|,\s*or)\s*$", re.IGNORECASE)


# An acronym defined in passing: "WCF (Windows Communication Foundation)", "Identity & Access
# Management (IAM)". Both name one thing, and a CV that writes either one has it.
_ACRONYM_FIRST = re.compile(r"(?P<acronym>\b[A-Z][A-Za-z0-9.&+]{1,9})\s*\((?P<words>[^()]{3,80})\)")
_WORDS_FIRST = re.compile(
    r"(?P<words>(?:\b[A-Za-z][\w.+-]*[\s&/-]+(?:(?:and|of|for|&)\s+)?){1,7})\((?P<acronym>[A-Z][A-Za-z0-9.&+]{1,9})\)"
)
_MINOR_WORDS = frozenset({"and", "of", "for", "the", "&", "to", "in", "on"})


def _initials_fit(acronym: str, words: str) -> list[str] | None:
    """The words spelled by the acronym (read from the end of ``words``), or None."""
    letters = [ch.lower() for ch in acronym if ch.isupper() or ch.isdigit()]
    tokens = [t for t in re.split(r"[\s/&-]+", words.strip()) if t]
    content = [t for t in tokens if t.lower() not in _MINOR_WORDS]
    if len(letters) < 2 or len(content) < len(letters):
        return None
    tail = content[-len(letters) :] if len(content) > len(letters) else content
    if [t[0].lower() for t in tail] != letters:
        return None
    return tail


def _definitions(text: str) -> list[tuple[str, str]]:
    """(acronym, expansion) pairs written in ``text``."""
    out: list[tuple[str, str]] = []
    for found in _ACRONYM_FIRST.finditer(text):
        spelled = _initials_fit(found.group("acronym"), found.group("words"))
        if spelled and len(found.group("words").split()) <= len(spelled) + 2:
            out.append((found.group("acronym"), found.group("words")))
    for found in _WORDS_FIRST.finditer(text):
        words = found.group("words")
        spelled = _initials_fit(found.group("acronym"), words)
        if spelled:
            out.append((found.group("acronym"), words[words.rindex(spelled[0]) :].strip()))
    return out


def _merge_definitions(text: str, units: dict[frozenset[str], float]) -> None:
    """One unit per defined acronym: its own terms and skills are alternatives; the words of
    the expansion stay only as weak units, so the acronym alone is enough."""
    for acronym, words in _definitions(text):
        short = frozenset(profile(acronym).terms)
        written = profile(words)
        expansion = written.terms
        # a skill the lexicon knows by the whole expansion; not one named by a word of it
        # ("Communication" in "Windows Communication Foundation")
        long_skills = frozenset(
            SKILL_PREFIX + m.skill_id for m in written.skills if m.end - m.start >= 0.8 * len(words)
        )
        alternatives = short | long_skills
        members = [keys for keys in units if keys & alternatives]
        if not short or not members:
            continue
        # a defined acronym names a thing, as a lexicon skill does, even if the lexicon lacks it
        weight = max(term_weight(SKILL_PREFIX), *(units[keys] for keys in members))
        merged = frozenset().union(*members) | alternatives
        for keys in members:
            del units[keys]
        for key in expansion:
            single = frozenset({key})
            if single in units:
                units[single] = min(units[single], 0.25)
        units[merged] = max(units.get(merged, 0.0), weight)


def _units(text: str, terms: Mapping[str, float]) -> tuple[Unit, ...]:
    prof = profile(text)
    matches = list(prof.skills)
    group_of: dict[int, int] = {}
    # alternatives introduced by "such as", "e.g." or a parenthesis
    for found in _ALTERNATIVES.finditer(text):
        inside = [
            i
            for i, m in enumerate(matches)
            if found.start("body") <= m.start and m.end <= found.end("body")
        ]
        if len(inside) >= 2:
            for i in inside:
                group_of.setdefault(i, inside[0])
    # "PostgreSQL or MySQL", "AWS/GCP"
    for i in range(1, len(matches)):
        between = text[matches[i - 1].end : matches[i].start]
        if _OR_JOIN.match(between) and ("or" in between.lower() or "/" in between):
            group_of[i] = group_of.get(i - 1, i - 1)
            group_of.setdefault(i - 1, group_of[i])
    groups: dict[int, set[str]] = {}
    for i, match in enumerate(matches):
        groups.setdefault(group_of.get(i, i), set()).add(SKILL_PREFIX + match.skill_id)
    grouped = set().union(*groups.values()) if groups else set()
    units: dict[frozenset[str], float] = {}
    for members in groups.values():
        key_set = frozenset(members)
        units[key_set] = max(units.get(key_set, 0.0), *(terms.get(k, 0.0) for k in members))
    for key, weight in terms.items():
        if key not in grouped:
            units[frozenset({key})] = max(units.get(frozenset({key}), 0.0), weight)
    _merge_definitions(text, units)
    headline = _headline_keys(text)
    if headline:
        for unit_keys in list(units):
            if unit_keys & headline:
                units[unit_keys] *= HEADLINE_FACTOR
    items = _item_keys(text)
    return tuple(
        Unit(keys, weight, item=bool(keys & items) and weight >= 1.0)
        for keys, weight in sorted(units.items(), key=lambda kv: sorted(kv[0]))
        if weight > 0
    )


# An enumeration of short items: "core skills: Confidentiality, Basic IT Skills, Initiative,
# Prioritization Skills", "Proficiency in MSSQL, Jenkins, Nexus, Linux and AWS".
_ITEM_COMMA = re.compile(r"\s*[,;]\s*")
_ITEM_LAST = re.compile(r"^(?:and|or|and/or)\s+|\s+(?:and|or|and/or)\s+", re.IGNORECASE)
_LEAD_IN = re.compile(
    r"^.*(?::|\b(?:in|with|of|like|including|as|such as|e\.g\.?))\s+", re.IGNORECASE
)
ITEM_MAX_WORDS = 4
MIN_ITEMS = 3


def _item_keys(text: str) -> frozenset[str]:
    """The terms of the items of an enumeration in ``text``, or nothing if it holds none.

    An enumeration is a comma-separated run of at least three short items; the first may follow
    a lead-in ("Proficiency in", "core skills:"), the last may be joined by "and"/"or".
    """
    pieces = [p for p in _ITEM_COMMA.split(text.strip().rstrip(".")) if p.strip()]
    if len(pieces) < MIN_ITEMS - 1:
        return frozenset()
    pieces[0] = _LEAD_IN.sub("", pieces[0])
    pieces[-1:] = [p for p in _ITEM_LAST.split(pieces[-1]) if p.strip()]
    short = [p for p in pieces if 0 < len(p.split()) <= ITEM_MAX_WORDS]
    if len(short) < MIN_ITEMS or len(short) < len(pieces) - 1:
        return frozenset()
    out: set[str] = set()
    for piece in short:
        out |= set(profile(piece).terms)
    return frozenset(out)


# "Camera comfort: able to create dynamic results within the frame ..." — the words before the
# colon name the requirement; the rest elaborates it.
_HEADLINE = re.compile(r"^\s*(?P<head>[^:.;]{2,60}?)\s*[:\u2013\u2014]\s+\S")
HEADLINE_FACTOR = 3.0


def _headline_keys(text: str) -> frozenset[str]:
    match = _HEADLINE.match(text)
    if not match or len(match.group("head").split()) > 6:
        return frozenset()
    rest = text[match.end("head") :]
    if len(rest.split()) < 4:
        return frozenset()  # "Python: 5 years" is not a headline with an elaboration
    return frozenset(profile(match.group("head")).terms)


def _terms(text: str) -> tuple[dict[str, float], frozenset[str]]:
    prof = profile(text)
    terms: dict[str, float] = {}
    for key in prof.terms:
        terms[key] = max(terms.get(key, 0.0), term_weight(key))
    skills = frozenset(k[len(SKILL_PREFIX) :] for k in terms if k.startswith(SKILL_PREFIX))
    # A skill the lexicon recognised stands for the words it was written with: counting both
    # would make "PostgreSQL" weigh three times "databases".
    for match in prof.skills:
        covered = profile(text[match.start : match.end]).terms
        for key in covered:
            if not key.startswith(SKILL_PREFIX) and key in terms:
                terms[key] = min(terms[key], 0.25)
    return terms, skills


def _word_units(text: str) -> tuple[Unit, ...]:
    weights: dict[str, float] = {}
    for key in profile(text).terms:
        if not key.startswith(SKILL_PREFIX):
            weights[key] = max(weights.get(key, 0.0), term_weight(key))
    headline = _headline_keys(text)
    return tuple(
        Unit(frozenset({key}), weight * (HEADLINE_FACTOR if key in headline else 1.0))
        for key, weight in sorted(weights.items())
    )


def make_requirement(chunk: Chunk, kind: RequirementKind, weight: float) -> Requirement | None:
    """A chunk as a requirement, or None when it says nothing specific ("Responsibilities:")."""
    terms, skills = _terms(chunk.text)
    units = _units(chunk.text, terms)
    if sum(unit.weight for unit in units) < 0.75:
        return None
    return Requirement(chunk, kind, weight, terms, skills, units, _word_units(chunk.text))


def _kind(chunk: Chunk, default_kind: RequirementKind) -> RequirementKind:
    kind = _SECTION_KIND[job_section_of(chunk.path)] if chunk.path else default_kind
    if kind in (RequirementKind.REQUIRED, RequirementKind.RESPONSIBILITY) and _INLINE_NICE.search(
        chunk.text
    ):
        return RequirementKind.NICE
    return kind


def _requirements(document: ReferenceDocument) -> tuple[Requirement, ...]:
    return _parsed(document.name, document.text)


# Parsing is keyed by content, so a document sent with a request is parsed from its own text and
# the shipped defaults are parsed once per process.
@lru_cache(maxsize=64)
def _parsed(name: str, text: str) -> tuple[Requirement, ...]:
    prefix = _SOURCE_PREFIX.get(name, name)
    out: list[Requirement] = []
    for chunk in chunk_document(text, name, prefix=prefix):
        if chunk.kind is ChunkKind.HEADING:
            continue
        default_kind = (
            RequirementKind.REQUIRED if chunk.kind is ChunkKind.BULLET else RequirementKind.CONTEXT
        )
        kind = _kind(chunk, default_kind)
        requirement = make_requirement(chunk, kind, KIND_WEIGHT[kind])
        if requirement is not None:
            out.append(requirement)
    return tuple(out)


_RUBRIC_CACHE: dict[str, tuple[Requirement, ...]] = {}
_RUBRIC_CACHE_SIZE = 32


def _rubric_requirements(rubric: Rubric) -> tuple[Requirement, ...]:
    cached = _RUBRIC_CACHE.get(rubric.content_hash)
    if cached is not None:
        return cached
    parsed = _parse_rubric(rubric)
    if len(_RUBRIC_CACHE) >= _RUBRIC_CACHE_SIZE:
        _RUBRIC_CACHE.pop(next(iter(_RUBRIC_CACHE)))
    _RUBRIC_CACHE[rubric.content_hash] = parsed
    return parsed


def _parse_rubric(rubric: Rubric) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    position = 0
    for param in rubric.parameters:
        pieces = [("desc", f"{param.label}: {param.description}")]
        pieces += [(str(level), text) for level, text in sorted(param.guidance.items())]
        for suffix, text in pieces:
            chunk = Chunk(
                id=f"rubric-{param.key}-{suffix}",
                source="rubric",
                section=param.key,
                kind=ChunkKind.SENTENCE,
                text=text,
                start=0,
                end=len(text),
                index=position,
            )
            position += 1
            requirement = make_requirement(chunk, RequirementKind.RUBRIC, 0.0)
            if requirement is not None:
                out.append(requirement)
    return tuple(out)


def parameter_query(param: RubricParameter) -> dict[str, float]:
    """What a parameter is about: its label and description, and its top guidance level."""
    texts: list[tuple[str, float]] = [(param.label, 2.0), (param.description, 1.0)]
    if param.guidance:
        top = max(param.guidance)
        texts.append((param.guidance[top], 0.5))
    query: dict[str, float] = {}
    for text, factor in texts:
        for key, weight in _terms(text)[0].items():
            query[key] = query.get(key, 0.0) + weight * factor
    return query


@dataclass(frozen=True, slots=True)
class ReferenceCorpus:
    job: tuple[Requirement, ...]
    brief: tuple[Requirement, ...]
    rubric: tuple[Requirement, ...]
    index: Bm25Index
    all: tuple[Requirement, ...]

    def retrieve(
        self, query: Mapping[str, float], sources: Sequence[str], k: int
    ) -> list[tuple[Requirement, float]]:
        """The ``k`` requirements of ``sources`` most relevant to ``query`` (BM25), best first."""
        wanted = set(sources)
        allowed = [i for i, req in enumerate(self.all) if req.source in wanted]
        hits: list[Hit] = self.index.search(query, k, allowed=allowed)
        return [(self.all[hit.index], hit.score) for hit in hits]

    def relevance(self, query: Mapping[str, float], requirement: Requirement) -> float:
        return self.index.score(self.all.index(requirement), query)


def build_corpus(
    job_description: ReferenceDocument, brief: ReferenceDocument, rubric: Rubric
) -> ReferenceCorpus:
    job = _requirements(job_description)
    brief_reqs = _requirements(brief)
    rubric_reqs = _rubric_requirements(rubric)
    everything = job + brief_reqs + rubric_reqs
    index = Bm25Index([list(profile(req.text).terms) for req in everything])
    return ReferenceCorpus(job, brief_reqs, rubric_reqs, index, everything)
