"""Experience level: years in dated roles (overlaps once), explicit claims, seniority and scope.

When the job description asks for experience ("3+ years as a backend engineer", "1 year as a
pathologist"), each ask is checked on its own: the years of the CV's roles that match it against
the years it wants. Without such asks, total years are read on the rubric's own scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cv_evaluator.domain.evaluation import RubricParameter
from cv_evaluator.evaluation.analysis import SKILL_PREFIX, profile, term_weight
from cv_evaluator.evaluation.chunking import ChunkKind
from cv_evaluator.evaluation.documents import PreparedDocument, Segment
from cv_evaluator.evaluation.evidence import quote, verified
from cv_evaluator.evaluation.experience import (
    DateRange,
    ask_clauses,
    date_ranges,
    latest_year,
    merged_years,
    years_claims,
)
from cv_evaluator.evaluation.requirements import (
    Requirement,
    RequirementKind,
    Unit,
    parameter_query,
)
from cv_evaluator.evaluation.scoring import ParameterResult, ScoreContext, fine_score, shorten
from cv_evaluator.evaluation.sections import CvSection
from cv_evaluator.evaluation.signals import SENIORITY, find_signals
from cv_evaluator.evaluation.text import term

__all__ = ["EXPERIENCE_CUTS", "score_experience"]

# Job ads state minimums: meeting 90% of what is asked is "meets it"; below 20% is "does not".
EXPERIENCE_CUTS = (0.2, 0.45, 0.7, 0.9)
ROLE_MATCH = 0.6  # share of an ask's role words a dated entry must carry
_EDUCATION = re.compile(
    r"\b(?:bachelor|master|b\.?sc|m\.?sc|ph\.?d|mba|degree|diploma|university|college|school|"
    r"graduated|studies|coursework|gpa)\b",
    re.IGNORECASE,
)
_NOT_WORK = (CvSection.EDUCATION, CvSection.PERSONAL, CvSection.INTERESTS, CvSection.LANGUAGES)


@dataclass(slots=True)
class Entry:
    """One dated role: its period, the passage with the dates, and the words of its block."""

    period: DateRange
    segment: Segment
    terms: set[str]  # the dated line and the block under it
    title: frozenset[str]  # the dated line and any header lines just above it


def _present(ctx: ScoreContext) -> tuple[int, int] | None:
    """What "present" means in this CV's date ranges (see ``evaluation.experience``)."""
    as_of = ctx.request.as_of
    if as_of is not None:
        return as_of.year, as_of.month
    latest = latest_year(ctx.cv.text)
    return None if latest is None else (latest + 1, 1)


def _entries(document: PreparedDocument, present: tuple[int, int] | None) -> list[Entry]:
    """Dated roles, each with the passages around it that describe it.

    "Senior Backend Engineer (2019-2023)" rarely says what the job was; the bullets under it
    do, so a role is matched against its whole block. Forms that put the dates on their own line
    ("Position: ... / Company: ... / Years: 2015-2017") name the role in the short lines just
    above, which count as the role's title.
    """
    out: list[Entry] = []
    current: list[Entry] = []
    header: list[Segment] = []
    key: tuple[str, ...] | None = None
    for segment in document.segments:
        if segment.section_key != key:
            # a new section: nothing above it describes its roles, no role continues into it
            current, header, key = [], [], segment.section_key
        if segment.section in _NOT_WORK:
            continue
        periods = [] if _EDUCATION.search(segment.text) else date_ranges(segment.text, present)
        if periods:
            title = set(segment.terms)
            for previous in header[-_HEADER_LINES:]:
                title |= previous.terms
            current = [Entry(period, segment, set(title), frozenset(title)) for period in periods]
            out.extend(current)
            header = []
            continue
        if _is_header(segment):
            header.append(segment)
        else:
            header = []
        for entry in current:
            entry.terms |= segment.terms
    return out


_HEADER_LINES = 3
_HEADER_MAX_TOKENS = 10


def _is_header(segment: Segment) -> bool:
    return (
        segment.chunk.kind is not ChunkKind.BULLET
        and len(segment.text.split()) <= _HEADER_MAX_TOKENS
    )


_ROLE_AS = re.compile(
    r"\b(?:as|being)\s+(?:an?\s+|the\s+)?(?P<role>[^,.;:()]+?)"
    r"(?=\s+(?:in|at|for|with|within|on|where|who|that|which|including)\b|[,.;:()]|$)",
    re.IGNORECASE,
)
_ROLE_IN = re.compile(
    r"\b(?:years?|yrs?)\s+(?:of\s+)?(?:\w+\s+)?(?:experience\s+)?(?:in|with)\s+"
    r"(?P<role>[^,.;:()]+?)(?=\s+(?:at|for|within|where|who|that|which|including)\b|[,.;:()]|$)",
    re.IGNORECASE,
)


# "experience in a similar capacity", "in the field": the role is the job's own title
_VAGUE = frozenset(
    term(word)
    for word in (
        "similar",
        "capacity",
        "role",
        "position",
        "field",
        "industry",
        "same",
        "equivalent",
        "comparable",
        "related",
        "area",
        "this",
    )
)


def _role_units(
    clause: str, req: Requirement, title: tuple[Unit, ...]
) -> list[tuple[frozenset[str], float]]:
    """What an ask's experience is *in*: the role it names ("as a pathologist"), the job title
    when it names none ("in a similar capacity"), or else its specific words — never "years",
    "minimum" or "experience"."""
    match = _ROLE_AS.search(clause) or _ROLE_IN.search(clause)
    text = match.group("role") if match else clause
    keys = {k: term_weight(k) for k in profile(text).terms}
    # "3+" and "5-7" are the amount asked for, never what the experience is in.
    units = [
        (frozenset({k}), w)
        for k, w in sorted(keys.items())
        if w >= 0.5 and not any(ch.isdigit() for ch in k)
    ]
    if units and all(keys <= _VAGUE for keys, _ in units):
        return [(unit.keys, unit.weight) for unit in title if unit.weight >= 0.5]
    if units or match:
        return units
    return [
        (unit.keys, unit.weight)
        for unit in req.units
        if unit.weight >= 0.5 and not any(k.isdigit() for k in unit.keys)
    ]


def _role_share(
    units: list[tuple[frozenset[str], float]], terms: frozenset[str] | set[str]
) -> float:
    mass = sum(weight for _, weight in units)
    if mass <= 0:
        return 0.0
    return sum(weight for keys, weight in units if keys & terms) / mass


def _entry_share(units: list[tuple[frozenset[str], float]], entry: Entry) -> float:
    """The dated line names the role; the bullets under it only hint at it. An ask that names
    skills ("5 years managing Linux infrastructure") is met by roles that use those skills."""
    words = max(_role_share(units, entry.title), 0.8 * _role_share(units, entry.terms))
    skills = [
        (keys, weight) for keys, weight in units if any(k.startswith(SKILL_PREFIX) for k in keys)
    ]
    return max(words, _role_share(skills, entry.terms)) if skills else words


TITLE_MATCH = 0.4  # share of the job title's words a role's own title must carry
_TITLE_LINE_MAX_WORDS = 12


def _job_title(ctx: ScoreContext, title: tuple[Unit, ...]) -> list[tuple[frozenset[str], float]]:
    """The job title's words: from a "Job Title:" requirement, else the ad's first line when it
    is a heading or short enough to be one ("# Backend Product Engineer — AI Features")."""
    if title:
        return [(unit.keys, unit.weight) for unit in title if unit.weight >= 0.5]
    first = next(
        (line for line in ctx.request.job_description.text.splitlines() if line.strip()), ""
    )
    if not first.lstrip().startswith("#") and len(first.split()) > _TITLE_LINE_MAX_WORDS:
        return []
    keys = {k: term_weight(k) for k in profile(first.lstrip("# ")).terms}
    # The role words, not the skills a title happens to name ("AI" in "AI Features").
    return [
        (frozenset({k}), w)
        for k, w in sorted(keys.items())
        if w >= 0.5 and not any(ch.isdigit() for ch in k) and not k.startswith(SKILL_PREFIX)
    ]


def _title_match(job_title: list[tuple[frozenset[str], float]], entry: Entry) -> float:
    share = _role_share(job_title, entry.title)
    return ROLE_MATCH if job_title and share >= TITLE_MATCH else 0.0


@dataclass(frozen=True, slots=True)
class Ask:
    requirement: Requirement
    clause: str
    years: float | None
    have: float
    evidence: tuple[Segment, ...]

    @property
    def ratio(self) -> float:
        if self.years is None or self.years <= 0:
            return 1.0 if self.evidence else 0.0
        return min(1.0, self.have / self.years)


def _asks(ctx: ScoreContext, entries: list[Entry], total: float) -> list[Ask]:
    out: list[Ask] = []
    for req in ctx.corpus.job:
        if req.kind in (RequirementKind.CONTEXT, RequirementKind.TITLE, RequirementKind.RUBRIC):
            continue
        clauses = ask_clauses(req.text)
        if req.kind is not RequirementKind.EXPERIENCE and clauses[0][0] is None:
            continue
        for need, clause in clauses:
            out.append(_ask(ctx, req, clause, need, entries, total))
    return out


def _ask(
    ctx: ScoreContext,
    req: Requirement,
    clause: str,
    need: float | None,
    entries: list[Entry],
    total: float,
) -> Ask:
    title = next((r.units for r in ctx.corpus.job if r.kind is RequirementKind.TITLE), ())
    units = _role_units(clause, req, title)
    job_title = _job_title(ctx, title)
    if not units:
        # "3+ years of professional experience": any dated role counts
        return Ask(req, clause, need, total, tuple(dict.fromkeys(e.segment for e in entries)))
    # A role held under the job's own title ("Backend Engineer" for a backend engineering job) is
    # experience of the kind the job asks for, whatever words the ask itself uses.
    shares = [(e, max(_entry_share(units, e), _title_match(job_title, e))) for e in entries]
    best = max((share for _, share in shares), default=0.0)
    # the roles that fit best (a job ad asking for "Network Engineer - Voice" is not met by
    # every network role), as long as they fit well enough at all
    matching = [e for e, share in shares if share >= ROLE_MATCH and share >= best - 0.15]
    have = merged_years(e.period for e in matching)
    evidence = [e.segment for e in matching]
    # an explicit claim in a passage about the same role ("5 years as a bus driver")
    for segment in ctx.cv.segments:
        if segment.section in _NOT_WORK or _role_share(units, segment.terms) < ROLE_MATCH:
            continue
        for claim in years_claims(segment.text):
            if claim.years > have:
                have = claim.years
                evidence.append(segment)
        if need is None and segment not in evidence and not segment.listed:
            evidence.append(segment)
    return Ask(req, clause, need, have, tuple(dict.fromkeys(evidence)))


def _years_on_scale(years: float) -> float:
    """Total years read on the default rubric's guidance: <1, 1-2, 2-3, 3-5, 5+."""
    for bound, value in ((1, 0.0), (2, 0.25), (3, 0.5), (5, 0.75)):
        if years < bound:
            return value
    return 1.0


def score_experience(ctx: ScoreContext, param: RubricParameter) -> ParameterResult:
    document = ctx.cv
    entries = _entries(document, _present(ctx))
    dated = merged_years(e.period for e in entries)
    claims = [
        claim.years
        for segment in document.segments
        if segment.section not in _NOT_WORK and not segment.listed
        for claim in years_claims(segment.text)
    ]
    claimed = max(claims, default=0.0)
    # A stated total is believed up to what the dated roles make plausible.
    total = max(dated, min(claimed, dated * 1.5 + 1.0)) if entries else claimed * 0.8

    asks = _asks(ctx, entries, total)
    seniority = find_signals(
        document,
        SENIORITY,
        segments=[s for s in document.segments if s.section not in _NOT_WORK],
        include_listed=False,
    )
    # seniority, scope and scale each add a little, on top of (not instead of) the years
    bonus = 0.1 * len(seniority) / len(SENIORITY)

    if asks:
        weights = [a.requirement.weight or 1.0 for a in asks]
        met_share = sum(w * a.ratio for w, a in zip(weights, asks, strict=True)) / sum(weights)
        # The asks decide. The CV's dated years against everything the asks add up to
        # separate candidates whose roles only partly fit the asks' wording.
        asked = sum(a.years for a in asks if a.years)
        overall = min(1.0, dated / asked) if asked else _years_on_scale(total)
        base = 0.8 * met_share + 0.2 * overall if met_share > 0 else 0.0
    else:
        base = _years_on_scale(total)
    value = 0.9 * base + bonus if base > 0 else 0.0

    query = parameter_query(param)
    retrieved = tuple((a.requirement, ctx.corpus.relevance(query, a.requirement)) for a in asks)
    unmet = [a for a in asks if a.ratio < 0.9]
    missing = tuple(
        f"{shorten(a.clause)} (found {a.have:.1f} years)" if a.years else shorten(a.clause)
        for a in sorted(unmet, key=lambda a: (a.ratio, a.requirement.chunk.index))
    )
    quotes = [
        quote(document, segment, _keys(a.requirement))
        for a in sorted(asks, key=lambda a: -a.ratio)
        for segment in a.evidence[:1]
    ]
    if not asks:
        quotes += [quote(document, e.segment) for e in entries[:3]]
    quotes += [quote(document, hits[0].segment) for hits in seniority.values()]
    evidence = verified(quotes, document.text, limit=4)
    if entries and value <= 0:
        return ParameterResult(
            score=1.0,
            rationale=f"The CV's dated roles add up to {dated:.1f} years, none of it the "
            "experience the job description asks for; scored the minimum.",
            evidence=verified((quote(document, e.segment) for e in entries), document.text, 3),
            missing=missing,
            retrieved=retrieved,
            value=0.0,
            details={"years_dated": round(dated, 2), "years_claimed": claimed},
        )
    if not evidence or value <= 0:
        return ParameterResult(
            score=1.0,
            rationale="No dated roles or stated years of relevant experience in the CV; scored "
            "the minimum.",
            evidence=(),
            missing=missing or ("Dated roles or years of experience",),
            retrieved=retrieved,
            value=0.0,
            details={"years_dated": round(dated, 2), "years_claimed": claimed},
        )
    met = len(asks) - len(unmet)
    parts = [f"about {total:.1f} years in dated roles and stated experience (overlaps once)"]
    if asks:
        parts.append(f"meets {met} of {len(asks)} experience requirements")
    if seniority:
        parts.append("shows " + ", ".join(name.replace("_", " ") for name in sorted(seniority)))
    rationale = "The CV gives " + "; ".join(parts) + "."
    return ParameterResult(
        score=fine_score(value, EXPERIENCE_CUTS),
        rationale=rationale,
        evidence=evidence,
        missing=missing,
        retrieved=retrieved,
        value=round(value, 4),
        details={
            "years_dated": round(dated, 2),
            "years_claimed": claimed,
            "asks": [
                {"requirement": a.requirement.id, "years": a.years, "found": round(a.have, 2)}
                for a in asks
            ],
            "seniority": sorted(seniority),
        },
    )


def _keys(req: Requirement) -> frozenset[str]:
    return frozenset(k for unit in req.units for k in unit.keys if not k.startswith(SKILL_PREFIX))
