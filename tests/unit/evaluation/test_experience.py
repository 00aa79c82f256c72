from __future__ import annotations

import pytest

from cv_evaluator.evaluation.experience import (
    ask_clauses,
    date_ranges,
    merged_years,
    years_claims,
    years_required,
)


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("Pathologist, XYZ Hospital (2021 - 2022)", 1.0),
        ("Jan 2019 - Mar 2021", 2.25),
        ("from 2012 to 2017", 5.0),
        ("between 2010 and 2012", 2.0),
        ("06/2018 – 05/2020", 2.0),
        ("From: 2017 - To: 2020", 3.0),
    ],
)
def test_date_ranges(text: str, years: float) -> None:
    ranges = date_ranges(text)
    assert len(ranges) == 1
    assert ranges[0].years == pytest.approx(years)


def test_present_is_read_as_the_latest_year_the_text_mentions() -> None:
    text = "Engineer (2019 - Present)\nCertified in 2023."
    assert date_ranges(text)[0].years == pytest.approx(5.0)  # 2019 through 2023


def test_overlapping_roles_are_counted_once() -> None:
    text = "A (2015 - 2019)\nB (2017 - 2020)\nC (2022 - 2023)"
    assert merged_years(date_ranges(text)) == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("6+ years of experience", 6.0),
        ("Three or more years as an IT Security Administrator", 3.0),
        ("A single year experience as a Senior Service Desk", 1.0),
        ("1-year experience as a Tier 2 analyst", 1.0),
        ("A minimum of 4 yearsExperience as a Agile Business Analyst", 4.0),
    ],
)
def test_years_claims(text: str, years: float) -> None:
    assert years_required(text) == years


def test_ages_and_glued_words_are_not_claims() -> None:
    assert years_claims("I am 30 years old") == []
    assert years_claims("We meet yearly") == []


def test_one_sentence_with_two_asks_is_split() -> None:
    clauses = ask_clauses(
        "A minimum of 1 year as a solar installer and 4 years in hairstyling as barber."
    )
    assert [years for years, _ in clauses] == [1.0, 4.0]
    assert "solar installer" in clauses[0][1]
    assert "barber" in clauses[1][1]
