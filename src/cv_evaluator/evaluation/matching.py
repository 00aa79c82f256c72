"""How well a candidate document meets one requirement, and where it shows it.

A requirement is met by a *passage*, not by words scattered over the CV. A skill shown in a
sentence about work counts more than the same skill in a bare list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cv_evaluator.evaluation.analysis import SKILL_PREFIX
from cv_evaluator.evaluation.documents import PreparedDocument, Segment
from cv_evaluator.evaluation.lexicon import lexicon
from cv_evaluator.evaluation.requirements import Requirement, Unit

__all__ = [
    "LISTED_FACTOR",
    "MET",
    "PARTIAL",
    "RequirementMatch",
    "credit",
    "match_requirement",
]

LISTED_FACTOR = 0.8  # a bare list entry is a claim, a sentence about work is evidence
ELSEWHERE_FACTOR = 0.8  # a named skill shown in another passage of the same document
MET = 0.6
PARTIAL = 0.3
# How much of a requirement one passage must show to meet it. Short requirements must be shown
# whole; a long one ("Communication: must possess strong communication skills to interact with
# models, photographers and clients ...") is met by half its content, and never needs more than
# ENOUGH units' worth beyond that.
ENOUGH = 4.0
MIN_NAMED = 2  # a requirement naming this many skills gets credit per named skill shown
LONE_WORD_FACTOR = 0.5  # one ordinary word in common is a coincidence more often than evidence


@dataclass(frozen=True, slots=True)
class RequirementMatch:
    requirement: Requirement
    satisfaction: float  # 0..1: how much of the requirement one passage shows
    segment: Segment | None  # the passage that shows it best
    matched: frozenset[str]  # requirement keys found in that passage
    credit: float = 0.0  # 0..1: satisfaction as credit, less when only a list entry shows it
    # named skills of the requirement the document shows nowhere (lexicon names)
    unshown: tuple[str, ...] = ()

    @property
    def met(self) -> bool:
        return self.satisfaction >= MET


def credit(satisfaction: float) -> float:
    """Partial credit: nothing up to PARTIAL, full from MET, linear between."""
    if satisfaction >= MET:
        return 1.0
    if satisfaction <= PARTIAL:
        return 0.0
    return (satisfaction - PARTIAL) / (MET - PARTIAL)


def _skill_unit(unit: Unit) -> bool:
    return any(key.startswith(SKILL_PREFIX) for key in unit.keys)


def _skill_name(unit: Unit) -> str:
    names = sorted(
        lexicon().info(key[len(SKILL_PREFIX) :]).name
        for key in unit.keys
        if key.startswith(SKILL_PREFIX)
    )
    return " or ".join(names)


def _separable(unit: Unit) -> bool:
    """A unit that may be shown in another passage than the rest of the requirement."""
    return unit.item or _skill_unit(unit)


def _shown(
    units: tuple[Unit, ...], needed: float, segment: Segment
) -> tuple[float, frozenset[str], bool]:
    """Coverage of ``units`` by one passage, the keys it matched, whether it matched a unit
    that says something specific (weight 1 or more, not a generic word such as "high")."""
    local = 0.0
    matched: set[str] = set()
    hits = 0
    named_skill = False
    heavy = False
    anchored = False
    for unit in units:
        hit = unit.keys & segment.terms
        if hit:
            local += unit.weight
            matched |= hit
            hits += 1
            named_skill = named_skill or _separable(unit)
            heavy = heavy or unit.weight > 1.0
            anchored = anchored or unit.weight >= 1.0
    specific = sum(1 for unit in units if unit.weight >= 1.0)
    if hits == 1 and not named_skill and not heavy and specific >= 3:
        local *= LONE_WORD_FACTOR
    return local, frozenset(matched), anchored


def match_requirement(
    requirement: Requirement,
    document: PreparedDocument,
    segments: Iterable[Segment] | None = None,
) -> RequirementMatch:
    """Satisfaction of one requirement by the best passage of the document.

    Three readings, the best one counts:

    * with named skills: the passage's coverage of the requirement's units; skills and
      enumeration items the passage lacks but another passage shows still count at a discount
      ("AWS, Docker and CI/CD" is rarely written in one line);
    * in words only, at full weight, so a skill the lexicon names differently on each side
      still meets;
    * by precision: a short passage entirely *about* the requirement ("Automation", against
      "Understanding of automation processes and technology") — the F-measure of the words.

    Ordinary words must stand together in one passage, so sentences added anywhere cannot
    assemble a requirement from scattered words; only the items of an enumeration, which are
    separate things, may each come from their own passage.
    """
    mass = requirement.mass
    keys = requirement.keys
    # only passages sharing at least one key can show anything (the inverted index says which)
    if segments is None:
        pool = [document.segments[i] for i in document.candidates(keys)]
    else:
        pool = [segment for segment in segments if not segment.terms.isdisjoint(keys)]
    if mass <= 0 or not pool:
        return RequirementMatch(requirement, 0.0, None, frozenset())
    needed = max(min(mass, ENOUGH), mass / 2)
    word_mass = requirement.word_mass
    word_needed = max(min(word_mass, ENOUGH), word_mass / 2) if word_mass > 0 else 0.0
    units = requirement.units
    # where each named skill or enumeration item is shown: in context (1.0) or only listed
    skill_strength: dict[int, float] = {}
    for i, unit in enumerate(units):
        if not _separable(unit):
            continue
        for segment in pool:
            if unit.keys & segment.terms:
                strength = LISTED_FACTOR if segment.listed else 1.0
                skill_strength[i] = max(skill_strength.get(i, 0.0), strength)
    # A requirement naming several skills asks for each of them: the share of its named skills
    # the CV shows anywhere bounds its credit, so one missing skill always costs something.
    named = [i for i, unit in enumerate(units) if _skill_unit(unit)]
    named_share = 1.0
    unshown: tuple[str, ...] = ()
    if len(named) >= MIN_NAMED:
        named_mass = sum(units[i].weight for i in named)
        named_share = sum(units[i].weight for i in named if i in skill_strength) / named_mass
        unshown = tuple(_skill_name(units[i]) for i in named if i not in skill_strength)
    specific = any(unit.weight >= 1.0 for unit in (*units, *requirement.word_units))
    best_sat = 0.0
    best_credit = 0.0
    best_segment: Segment | None = None
    best_matched: frozenset[str] = frozenset()
    for segment in pool:
        local, matched, anchored = _shown(units, needed, segment)
        words, word_matched, word_anchored = (
            _shown(requirement.word_units, word_needed, segment)
            if word_needed
            else (0.0, frozenset(), False)
        )
        if not matched and not word_matched:
            continue
        if specific and not (anchored or word_anchored):
            # a passage sharing only generic words ("high" in "high-tech") shows nothing of
            # the requirement itself, so it cannot be where the requirement is shown
            continue
        elsewhere = sum(
            units[i].weight * strength * ELSEWHERE_FACTOR
            for i, strength in skill_strength.items()
            if not units[i].keys & segment.terms
        )
        shown = (local + elsewhere) / needed
        if word_needed:
            recall = words / word_needed
            precision = words / segment.word_mass if segment.word_mass > 0 else 0.0
            f_measure = 2 * precision * recall / (precision + recall) if words > 0 else 0.0
            shown = max(shown, recall, f_measure)
        shown = min(1.0, shown)
        # Whether a requirement is met does not depend on where it is shown; how much it is
        # worth does: a bare list entry is a claim, a sentence about work is evidence.
        worth = credit(shown) * (LISTED_FACTOR if segment.listed else 1.0) * named_share
        best_sat = max(best_sat, shown)
        # ties go to the earlier passage: deterministic, and stable when text is appended
        if worth > best_credit + 1e-12 or (best_segment is None and shown > 0):
            best_credit, best_segment = worth, segment
            best_matched = matched | word_matched
    return RequirementMatch(requirement, best_sat, best_segment, best_matched, best_credit, unshown)
