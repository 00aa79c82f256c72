"""Invariants of the local evaluator, checked on generated CVs and reports (hypothesis)."""

from __future__ import annotations

import json

from bench.quality_manipulation import INJECTIONS, stuffed_list
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cv_evaluator.domain.evaluation import EvaluationOutcome
from cv_evaluator.evaluation import LocalEvaluator, default_job_description
from tests.unit.evaluation.conftest import FixedTimer, make_request
from tests.unit.evaluation.samples import STRONG_REPORT, WEAK_REPORT

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples on every run: a property test must not flake
    suppress_health_check=[HealthCheck.too_slow],
)

EVALUATOR = LocalEvaluator(timer=FixedTimer())

BULLETS = (
    "Built REST APIs in Python with FastAPI serving 2 million requests per day.",
    "Maintained PostgreSQL schemas and wrote SQL reports for finance.",
    "Moved nightly jobs to Celery workers with retries.",
    "Mentored two junior engineers and ran code reviews.",
    "Wrote unit tests with pytest and raised coverage to 80%.",
    "Fixed CSS bugs on a WordPress marketing site.",
    "Collaborated with designers to ship an onboarding flow.",
    "Deployed services with Docker on AWS.",
    "Prepared weekly reports in Microsoft Excel.",
    "Answered customer tickets and wrote help articles.",
)
ROLES = (
    ("Backend Engineer, Acme", "2019 - 2023"),
    ("Software Developer, Globex", "Mar 2016 - Dec 2018"),
    ("Support Specialist, Initech", "2014 - 2016"),
    ("Intern, Hooli", "Jun 2023 - Dec 2023"),
)
SKILLS = ("Python", "FastAPI", "PostgreSQL", "Docker", "AWS", "Excel", "HTML", "Git", "Celery")
# Required or nice-to-have in the default job description, with a sentence that shows each.
ADDITIONS = (
    ("Terraform", "Provisioned the AWS infrastructure as code with Terraform modules."),
    ("Kubernetes", "Ran the services on Kubernetes with Helm charts and autoscaling."),
    ("Prometheus", "Added Prometheus metrics and Grafana dashboards for every service."),
    ("RAG", "Built a retrieval-augmented generation (RAG) pipeline over pgvector embeddings."),
    ("Kafka", "Moved event processing to Kafka consumers with idempotent handlers."),
    ("TypeScript", "Shipped React and TypeScript screens for the admin interface."),
)


@st.composite
def cv_sections(draw: st.DrawFn) -> list[str]:
    sections = [
        "## Summary\n"
        + draw(
            st.sampled_from(
                (
                    "Engineer who builds reliable backend services.",
                    "Developer with a background in support and automation.",
                    "Curious generalist who likes data and people.",
                )
            )
        )
    ]
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))
    lines = ["## Experience"]
    for title, dates in roles:
        lines.append(f"### {title} ({dates})")
        bullets = draw(st.lists(st.sampled_from(BULLETS), min_size=1, max_size=4, unique=True))
        lines += [f"- {b}" for b in bullets]
    sections.append("\n".join(lines))
    skills = draw(st.lists(st.sampled_from(SKILLS), min_size=1, max_size=6, unique=True))
    sections.append("## Skills\n" + ", ".join(skills))
    sections.append("## Education\nBSc Computer Science, University of Leeds (2013)")
    return sections


def render(sections: list[str]) -> str:
    return "# Sam Doe\nsam@example.com\n\n" + "\n\n".join(sections) + "\n"


def evaluate(cv: str, report: str = STRONG_REPORT) -> EvaluationOutcome:
    return EVALUATOR.evaluate_sync(make_request(cv, report))


def figures(outcome: EvaluationOutcome) -> dict[str, float]:
    out = {k: float(v) for k, v in outcome.receipt.raw_scores.items()}
    out["cv_match_rate"] = outcome.cv_match_rate
    out["project_score"] = outcome.project_score
    return out


def assert_not_raised(before: EvaluationOutcome, after: EvaluationOutcome) -> None:
    a, b = figures(before), figures(after)
    assert {k: (a[k], b[k]) for k in a if b[k] > a[k]} == {}


@PROPERTY
@given(sections=cv_sections(), addition=st.sampled_from(ADDITIONS))
def test_adding_a_required_skill_with_experience_never_lowers_technical_skills(
    sections: list[str], addition: tuple[str, str]
) -> None:
    before = evaluate(render(sections))
    skill, sentence = addition
    extended = list(sections)
    extended[1] = extended[1] + f"\n- {sentence}"
    extended[2] = extended[2] + f", {skill}"
    after = evaluate(render(extended))
    assert (
        after.receipt.raw_scores["technical_skills"]
        >= before.receipt.raw_scores["technical_skills"]
    )


@PROPERTY
@given(
    sections=cv_sections(),
    injection=st.sampled_from(INJECTIONS),
    where=st.sampled_from(("start", "end", "own_section")),
    target=st.sampled_from(("cv", "project")),
)
def test_appending_injection_text_never_raises_a_score(
    sections: list[str], injection: str, where: str, target: str
) -> None:
    cv = render(sections)
    before = evaluate(cv)

    def attack(text: str) -> str:
        if where == "start":
            return injection + "\n\n" + text
        if where == "end":
            return text + "\n" + injection + "\n"
        return text + "\n## Note\n" + injection + "\n"

    after = evaluate(attack(cv)) if target == "cv" else evaluate(cv, attack(STRONG_REPORT))
    assert_not_raised(before, after)
    assert "prompt_injection_attempt" in {f.code for f in after.flags if f.document == target}


@PROPERTY
@given(sections=cv_sections(), size=st.integers(min_value=40, max_value=200))
def test_appending_a_stuffed_keyword_list_never_raises_a_score(
    sections: list[str], size: int
) -> None:
    cv = render(sections)
    before = evaluate(cv)
    after = evaluate(cv + "\n" + stuffed_list(size, default_job_description().text))
    assert_not_raised(before, after)
    assert "keyword_stuffing" in {f.code for f in after.flags}


@PROPERTY
@given(sections=cv_sections(), order=st.permutations(range(4)))
def test_shuffling_sections_does_not_change_scores(sections: list[str], order: list[int]) -> None:
    before = evaluate(render(sections))
    after = evaluate(render([sections[i] for i in order]))
    assert figures(after) == figures(before)


@PROPERTY
@given(sections=cv_sections(), report=st.sampled_from((STRONG_REPORT, WEAK_REPORT)))
def test_the_same_input_always_gives_the_same_output(sections: list[str], report: str) -> None:
    first = LocalEvaluator(timer=FixedTimer()).evaluate_sync(make_request(render(sections), report))
    second = LocalEvaluator(timer=FixedTimer()).evaluate_sync(
        make_request(render(sections), report)
    )
    assert json.dumps(first.as_dict(), sort_keys=True) == json.dumps(
        second.as_dict(), sort_keys=True
    )
