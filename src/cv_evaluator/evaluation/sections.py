"""What a heading announces: the part of a CV, report or job description that follows it.

Scorers care about *where* a sentence stands: a skill in an experience bullet is demonstrated, the
same word in a skills list is only claimed; a job-ad bullet under "Nice to have" weighs less than
one under "Requirements".
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "CvSection",
    "JobSection",
    "classify_cv_section",
    "classify_job_section",
    "cv_section_of",
    "job_section_of",
]


class CvSection(StrEnum):
    SUMMARY = "summary"
    SKILLS = "skills"
    EXPERIENCE = "experience"
    PROJECTS = "projects"
    EDUCATION = "education"
    ACHIEVEMENTS = "achievements"
    PERSONAL = "personal"
    LANGUAGES = "languages"
    INTERESTS = "interests"
    OTHER = "other"


class JobSection(StrEnum):
    TITLE = "title"
    SUMMARY = "summary"
    REQUIRED = "required"
    NICE = "nice"
    RESPONSIBILITIES = "responsibilities"
    EXPERIENCE = "experience"
    VALUES = "values"
    BENEFITS = "benefits"
    OTHER = "other"


def _rules(*pairs: tuple[str, str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern, re.IGNORECASE), value) for pattern, value in pairs)


# Order matters: the first rule that matches wins ("Required Experience" is experience, not
# required skills; "Nice to have skills" is nice, not skills).
_CV_RULES = _rules(
    (r"project|portfolio|open[- ]source", CvSection.PROJECTS),
    (r"personal|contact|details|information", CvSection.PERSONAL),
    (r"language", CvSection.LANGUAGES),
    (r"interest|hobb", CvSection.INTERESTS),
    (r"achievement|accomplishment|award|honou?r|impact", CvSection.ACHIEVEMENTS),
    (
        r"experience|employment|work|career|history|positions?|professional background"
        r"|volunteer|leadership",
        CvSection.EXPERIENCE,
    ),
    (r"skill|technolog|tools|stack|competenc|expertise|proficienc|strength", CvSection.SKILLS),
    (r"education|academic|degree|qualification|certific|training|course", CvSection.EDUCATION),
    (r"summary|profile|about|objective|overview|introduction", CvSection.SUMMARY),
)

_JOB_RULES = _rules(
    (r"nice|bonus|preferred|desirable|plus|optional|good to have|extra", JobSection.NICE),
    (r"benefit|perks|we offer|compensation|salary|package", JobSection.BENEFITS),
    (
        r"^\W*(?:(?:required|requested|relevant|work|professional|minimum|prior|previous)\s+)?"
        r"(?:work\s+)?experience(?:\s+(?:required|needed|requirements?))?\W*$",
        JobSection.EXPERIENCE,
    ),
    (
        r"responsibilit|duties|what you.?ll do|you will|day[- ]to[- ]day|tasks",
        JobSection.RESPONSIBILITIES,
    ),
    (
        r"require|qualification|must|skills|what you.?ll (?:bring|need)|you have|about you"
        r"|competenc|profile|looking for|ideal candidate|experience",
        JobSection.REQUIRED,
    ),
    (r"value|culture|how we work|team|who we are", JobSection.VALUES),
    (r"title|position", JobSection.TITLE),
    (r"summary|about|overview|description|objective|introduction|context", JobSection.SUMMARY),
)


def classify_cv_section(heading: str) -> CvSection:
    for pattern, value in _CV_RULES:
        if pattern.search(heading):
            return CvSection(value)
    return CvSection.OTHER


def classify_job_section(heading: str) -> JobSection:
    for pattern, value in _JOB_RULES:
        if pattern.search(heading):
            return JobSection(value)
    return JobSection.OTHER


def cv_section_of(path: tuple[str, ...]) -> CvSection:
    """The innermost heading that says what it is ("### Engineer, Acme" under "## Experience")."""
    for title in reversed(path):
        section = classify_cv_section(title)
        if section is not CvSection.OTHER:
            return section
    return CvSection.OTHER


def job_section_of(path: tuple[str, ...]) -> JobSection:
    for title in reversed(path):
        section = classify_job_section(title)
        if section is not JobSection.OTHER:
            return section
    return JobSection.OTHER
