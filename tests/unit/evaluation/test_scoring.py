"""One-decimal scores, acronyms defined in requirements, cultural fit read against the job."""

from __future__ import annotations

import pytest

from cv_evaluator.evaluation import LocalEvaluator, reference_document
from cv_evaluator.evaluation.chunking import ChunkKind, chunk_document
from cv_evaluator.evaluation.documents import prepare
from cv_evaluator.evaluation.matching import match_requirement
from cv_evaluator.evaluation.requirements import _definitions, _item_keys, build_corpus
from cv_evaluator.evaluation.scorers.experience import EXPERIENCE_CUTS
from cv_evaluator.evaluation.scoring import (
    DEFAULT_CUTS,
    fine_score,
    guidance_level,
    level,
)
from tests.unit.evaluation.conftest import document, make_request

VALUES = [i / 200 for i in range(201)]


@pytest.mark.parametrize("cuts", [DEFAULT_CUTS, EXPERIENCE_CUTS])
def test_fine_scores_are_monotonic_one_decimal_and_span_the_scale(
    cuts: tuple[float, ...],
) -> None:
    scores = [fine_score(v, cuts) for v in VALUES]
    assert scores == sorted(scores)
    assert scores[0] == 1.0 and scores[-1] == 5.0
    assert all(round(s, 1) == s and repr(s) == repr(round(s, 1)) for s in scores)


@pytest.mark.parametrize("cuts", [DEFAULT_CUTS, EXPERIENCE_CUTS])
def test_the_nearest_level_of_a_fine_score_is_its_band(cuts: tuple[float, ...]) -> None:
    # away from the cut points (where one-decimal rounding may reach the next half-level)
    for value in VALUES:
        if all(abs(value - cut) > 0.03 for cut in cuts):
            assert guidance_level(fine_score(value, cuts)) == level(value, cuts)


def test_out_of_range_values_are_clamped_to_the_scale() -> None:
    assert fine_score(-0.5) == 1.0
    assert fine_score(1.7) == 5.0
    assert guidance_level(1.0) == 1 and guidance_level(2.5) == 3 and guidance_level(5.0) == 5


def test_an_acronym_and_its_expansion_are_one_requirement_unit() -> None:
    assert _definitions("WCF (Windows Communication Foundation)") == [
        ("WCF", "Windows Communication Foundation")
    ]
    assert _definitions("Knowledge of Identity & Access Management (IAM)") == [
        ("IAM", "Identity & Access Management")
    ]
    assert _definitions("Knowledge of databases (SQL, NoSQL)") == []
    assert _definitions("Python (3 years)") == []

    job = reference_document(
        "job_description",
        "## Required Skills\n- WCF (Windows Communication Foundation)\n",
        "request",
    )
    corpus = build_corpus(job, make_request().study_case_brief, make_request().rubric)
    (req,) = [r for r in corpus.job if "WCF" in r.text]
    shown = prepare(
        document("## Skills\n- Deep understanding of WCF for service applications\n"), "cv"
    )
    assert match_requirement(req, shown).met
    # a word of the expansion alone ("communication") is not the technology
    other = prepare(document("## Skills\n- Clear communication with Windows users\n"), "cv")
    assert not match_requirement(req, other).met


def test_the_items_of_an_enumeration_are_recognised() -> None:
    assert _item_keys("Core skills: Confidentiality, Initiative, Prioritization Skills") >= {
        "confidenti",
        "initi",
        "priorit",
    }
    assert "nexu" in _item_keys("Proficiency in MSSQL, Jenkins, Nexus, Linux and AWS")
    # a sentence with a comma or two is not an enumeration
    assert _item_keys("Maintain records, and report deviations to the shift supervisor") == set()
    assert (
        _item_keys("Identify potential threats and vulnerabilities and prevent breaches") == set()
    )


ENUMERATION_JOB = (
    "## Job title\nRecords Assistant\n\n## Required Skills\n"
    "- The accepted candidate should have the following core skills: Confidentiality, "
    "Initiative, Prioritization, Punctuality\n"
)


def _core_skills(cv: str) -> tuple[bool, float]:
    job = reference_document("job_description", ENUMERATION_JOB, "request")
    corpus = build_corpus(job, make_request().study_case_brief, make_request().rubric)
    (req,) = [r for r in corpus.job if "Confidentiality" in r.text]
    match = match_requirement(req, prepare(document(cv), "cv"))
    return match.met, match.credit


def test_the_items_of_an_enumeration_may_be_shown_in_different_passages() -> None:
    # Each item is its own thing: a CV shows each in the sentence about the work it was used in,
    # and a CV that shows fewer of them meets less of the requirement.
    every = (
        "## Experience\n- Records Assistant, Acme (2017 - 2020)\n"
        "  - Kept client records under strict confidentiality.\n"
        "  - Took the initiative to rebuild the archive index.\n"
        "  - Set the prioritization of requests for the whole office.\n"
        "  - Known for punctuality in every delivery.\n"
    )
    two = every.replace("  - Took the initiative to rebuild the archive index.\n", "").replace(
        "  - Known for punctuality in every delivery.\n", ""
    )
    assert _core_skills(every) == (True, 1.0)
    met_two, credit_two = _core_skills(two)
    assert not met_two
    assert 0.0 < credit_two < 1.0


NAMED_SKILLS_JOB = (
    "## Job title\nWeb Developer\n\n## Required Skills\n"
    "- Competency in Python, TypeScript and PostgreSQL: these skills are essential for "
    "maintaining our web applications.\n"
)


def _named_skills(cv: str) -> tuple[bool, float, tuple[str, ...]]:
    job = reference_document("job_description", NAMED_SKILLS_JOB, "request")
    corpus = build_corpus(job, make_request().study_case_brief, make_request().rubric)
    (req,) = [r for r in corpus.job if "TypeScript" in r.text]
    match = match_requirement(req, prepare(document(cv), "cv"))
    return match.met, match.credit, match.unshown


def test_a_requirement_naming_several_skills_costs_each_one_missing() -> None:
    # Met by half its content, the requirement used to forgive a missing named skill; each
    # named skill the CV does not show now costs its share and is named as a gap.
    every = (
        "## Experience\n- Web Developer, Acme (2018 - 2023)\n"
        "  - Maintained web applications in Python and TypeScript on PostgreSQL.\n"
    )
    fewer = every.replace(" and TypeScript", "")
    assert _named_skills(every) == (True, 1.0, ())
    met, credit, unshown = _named_skills(fewer)
    assert met
    assert 0.5 < credit < 1.0
    assert unshown == ("TypeScript",)
    outcome = LocalEvaluator().evaluate_sync(
        make_request(
            fewer, job_description=reference_document("job_description", NAMED_SKILLS_JOB, "x")
        )
    )
    technical = next(item for item in outcome.breakdown if item.key == "technical_skills")
    assert any(item.startswith("TypeScript (named in") for item in technical.missing)


GENERIC_WORD_JOB = (
    "## Job title\nAnalyst\n\n## Required Skills\n"
    "- High level understanding of pharmacovigilance, toxicology, or oncology procedures.\n"
)


def _generic_anchor(cv: str) -> float:
    job = reference_document("job_description", GENERIC_WORD_JOB, "request")
    corpus = build_corpus(job, make_request().study_case_brief, make_request().rubric)
    (req,) = [r for r in corpus.job if "toxicology" in r.text]
    return match_requirement(req, prepare(document(cv), "cv")).credit


def test_a_passage_sharing_only_a_generic_word_does_not_show_a_requirement() -> None:
    # The items are listed; a sentence about work that shares only "high" (in "high-volume")
    # must not turn the listed claim into evidence shown in work.
    listed = (
        "## Skills\n- Pharmacovigilance, toxicology and oncology procedures.\n\n"
        "## Experience\n- Analyst, Acme (2018 - 2023)\n"
        "  - Ran the reporting desk for a high-volume clinic.\n"
    )
    assert _generic_anchor(listed) == pytest.approx(0.8)
    in_work = listed.replace(
        "Ran the reporting desk for a high-volume clinic.",
        "Reviewed toxicology and oncology procedures for pharmacovigilance reports.",
    )
    assert _generic_anchor(in_work) == pytest.approx(1.0)


def test_a_numbered_acronym_is_a_list_item_not_a_heading() -> None:
    chunks = chunk_document("## Required Skills\n1. ASP.NET\n2. WCF\n", "job_description")
    assert [c.text for c in chunks if c.kind is ChunkKind.HEADING] == ["Required Skills"]
    items = [c for c in chunks if c.kind is not ChunkKind.HEADING]
    assert len(items) == 2
    assert all(c.path == ("Required Skills",) for c in items)


JOB_WITH_CUSTOMERS = """## Job title
Support Engineer

## Required Skills
- Excellent customer service skills
- Troubleshooting of desktop operating systems
"""


def test_cultural_fit_counts_the_kinds_of_collaboration_the_job_asks_for() -> None:
    job = reference_document("job_description", JOB_WITH_CUSTOMERS, "request")
    plain = (
        "## Experience\n- Support Engineer, Acme (2019 - 2023)\n"
        "  Troubleshot desktop operating systems for customers.\n"
    )
    extra = plain + "  Mentored two juniors and collaborated on a conference talk.\n"
    evaluator = LocalEvaluator()

    def fit(cv: str) -> tuple[float, dict[str, object]]:
        request = make_request(cv, job_description=job)
        outcome = evaluator.evaluate_sync(request)
        entry = next(b for b in outcome.breakdown if b.key == "cultural_fit")
        return entry.score, outcome.receipt.details["parameters"]["cultural_fit"]

    score_plain, details = fit(plain)
    score_extra, _ = fit(extra)
    assert details["signals_asked"] == ["stakeholders"]
    # mentoring and teamwork are real, but this job does not ask for them
    assert score_extra == score_plain


JOB_WITH_STATUS_CALLS = """## Job title
Storage Technician

## Required Skills
- Replacing failed disks in storage arrays
- Communicate incident status to regional operations managers during overnight maintenance windows
"""


def test_collaboration_only_listed_counts_half_and_is_quoted() -> None:
    job = reference_document("job_description", JOB_WITH_STATUS_CALLS, "request")
    work = (
        "## Experience\n- Storage Technician, Acme (2019 - 2023)\n"
        "  Replaced failed disks in storage arrays.\n"
    )
    listed = "## Skills\n- Clear written communication\n\n" + work
    shown = work + "  Communicated outage status to the night shift every week.\n"
    evaluator = LocalEvaluator()

    def fit(cv: str) -> tuple[float, tuple[str, ...]]:
        request = make_request(cv, job_description=job)
        entry = next(
            b for b in evaluator.evaluate_sync(request).breakdown if b.key == "cultural_fit"
        )
        return entry.score, entry.evidence

    none_score, none_evidence = fit(work)
    listed_score, listed_evidence = fit(listed)
    shown_score, _ = fit(shown)
    assert (none_score, none_evidence) == (1.0, ())
    # a listed signal is a weaker claim than one shown in work, but not the same as nothing
    assert none_score < listed_score < shown_score
    assert listed_evidence == ("Clear written communication",)
