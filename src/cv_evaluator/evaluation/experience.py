"""Years of experience: explicit statements ("6+ years") and date ranges, overlaps counted once.

"Present" is read as the evaluation's ``as_of`` date (the day the job was submitted, part of the
request, so a re-run reads it the same way). Without one it is the latest year the whole CV
mentions: never the wall clock, which would make the same input score differently next year.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DateRange",
    "YearsClaim",
    "ask_clauses",
    "date_ranges",
    "latest_year",
    "merged_years",
    "years_claims",
    "years_required",
]

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        )
    )
    for name in names.split()
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_YEAR = r"(?:19[5-9]\d|20[0-4]\d)"
_POINT = rf"(?:(?P<{{p}}m>{_MONTH})\s+|(?P<{{p}}n>0?[1-9]|1[0-2])\s*[/.-]\s*)?(?P<{{p}}y>{_YEAR})"
_OPEN = r"(?P<open>present|current(?:ly)?|now|today|ongoing|date)"
_RANGE = re.compile(
    rf"(?:from\s+|between\s+|since\s+)?{_POINT.format(p='a')}"
    rf"\s*(?:-|–|—|to|until|till|through|and)\s*(?:to:?\s*)?(?:{_POINT.format(p='b')}|{_OPEN})",
    re.IGNORECASE,
)
_SINCE = re.compile(rf"\bsince\s+{_POINT.format(p='a')}", re.IGNORECASE)
_ANY_YEAR = re.compile(rf"\b{_YEAR}\b")

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}
_NUMBER = r"(?P<n>\d{1,2}(?:\.\d)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_YEARS_RE = re.compile(
    rf"\b{_NUMBER}[\s-]*(?:\+|plus)?\s*(?:or more\s+|\+\s*)?(?:full\s+)?(?:years?|yrs?)(?!\s+old)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DateRange:
    start: int  # months since year 0
    end: int  # exclusive
    text_start: int
    text_end: int

    @property
    def years(self) -> float:
        return (self.end - self.start) / 12


@dataclass(frozen=True, slots=True)
class YearsClaim:
    years: float
    start: int
    end: int


def _month(raw: str | None, numeric: str | None, default: int) -> int:
    if raw:
        return _MONTHS.get(raw.lower().rstrip(".")[:3], default)
    if numeric:
        return int(numeric)
    return default


def latest_year(text: str) -> int | None:
    years = [int(y) for y in _ANY_YEAR.findall(text)]
    return max(years) if years else None


def date_ranges(text: str, present: tuple[int, int] | None = None) -> list[DateRange]:
    """Employment periods written as ranges ("Jan 2019 - Mar 2021", "2016 - present").

    ``present`` is the (year, month) an open range runs to; without it, the end of the latest
    year ``text`` mentions.
    """
    latest = latest_year(text)
    out: list[DateRange] = []
    for match in _RANGE.finditer(text):
        start_year = int(match.group("ay"))
        start_month = _month(match.group("am"), match.group("an"), 1)
        if match.group("open") and present is not None:
            end_year, end_month = max(present, (start_year, start_month))
            end_month += 1  # "to present" includes the current month
        elif match.group("open"):
            # "present": through the end of the latest year mentioned
            end_year = max(latest or start_year, start_year) + 1
            end_month = 1
        else:
            end_year = int(match.group("by"))
            # "2018 - 2021" means the years 2018 through 2021 at most, the span 2018-2021 at
            # least; counting the difference (3 years) is what job ads mean by "3 years".
            end_month = _month(match.group("bm"), match.group("bn"), 1)
            if match.group("bm") or match.group("bn"):
                end_month += 1  # "to Mar 2021" includes March
            elif match.group("am") or match.group("an"):
                end_month = start_month
        start = start_year * 12 + start_month - 1
        end = end_year * 12 + end_month - 1
        if end <= start or end - start > 50 * 12:
            continue
        out.append(DateRange(start, end, match.start(), match.end()))
    return out


def merged_years(ranges: Iterable[DateRange]) -> float:
    """Total years covered, overlapping periods counted once."""
    spans = sorted((r.start, r.end) for r in ranges)
    total = 0
    current: tuple[int, int] | None = None
    for start, end in spans:
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += current[1] - current[0]
    return total / 12


def years_claims(text: str) -> list[YearsClaim]:
    """Explicit statements such as "6+ years of experience" or "three years as a ..."."""
    out: list[YearsClaim] = []
    for match in _YEARS_RE.finditer(text):
        if match.end() < len(text) and text[match.end()].islower():
            continue  # "yearly", "years" glued to a lower-case word; "yearsExperience" is fine
        raw = match.group("n").lower()
        value = float(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else float(raw)
        if 0 < value <= 50:
            out.append(YearsClaim(value, match.start(), match.end()))
    return out


def ask_clauses(text: str) -> list[tuple[float | None, str]]:
    """A job-ad sentence cut into its experience asks, each with the years it wants.

    "1 year as a solar installer and 4 years as a barber" is two asks; the text before the
    first number belongs to the first ("Minimum one year of experience as a ...").
    """
    claims = years_claims(text)
    if not claims:
        return [(None, text)]
    out: list[tuple[float | None, str]] = []
    for i, claim in enumerate(claims):
        start = 0 if i == 0 else claim.start
        end = claims[i + 1].start if i + 1 < len(claims) else len(text)
        out.append((claim.years, text[start:end]))
    return out


def years_required(text: str) -> float | None:
    """The number of years a job-ad sentence asks for, if it asks for one."""
    claims = years_claims(text)
    if not claims:
        return None
    return max(claim.years for claim in claims)
