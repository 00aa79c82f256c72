from __future__ import annotations

import json
from importlib import resources

import pytest

from cv_evaluator.evaluation.lexicon import lexicon
from cv_evaluator.evaluation.text import normalize


def names(text: str) -> list[str]:
    lex = lexicon()
    return [lex.info(m.skill_id).name for m in lex.find(normalize(text))]


@pytest.mark.parametrize(
    ("text", "skill"),
    [
        ("We run Postgres in production", "PostgreSQL"),
        ("deployed on k8s", "Kubernetes"),
        ("JS and TS on the frontend", "JavaScript"),
        ("TS on the frontend", "TypeScript"),
        ("hosted on GCP", "Google Cloud Platform"),
        ("AWS Lambda functions", "AWS Lambda"),
        ("built CI/CD pipelines", "CI/CD"),
        ("a RESTful API", "REST"),
        ("gRPC services", "gRPC"),
        ("LLM features with RAG", "Large language models"),
        ("LLM features with RAG", "Retrieval-augmented generation"),
        ("ML models", "Machine learning"),
        ("NLP pipelines", "Natural language processing"),
        ("Apache Kafka consumers", "Apache Kafka"),
        ("tracked issues in Atlassian JIRA", "Atlassian JIRA"),
        ("Microsoft Excel reports", "Microsoft Excel"),
    ],
)
def test_aliases_meet_their_canonical_skill(text: str, skill: str) -> None:
    assert skill in names(text)


@pytest.mark.parametrize(
    "text",
    [
        "Let us go to the market",
        "Grade C in R&D planning",
        "The nearest train station",
        "a shipping container",
        "Email: someone@example.com",
        "she learned to react quickly",
    ],
)
def test_ordinary_words_are_not_skills(text: str) -> None:
    assert names(text) == []


def test_matching_is_leftmost_longest() -> None:
    assert names("Amazon Web Services") == ["Amazon Web Services"]
    assert names("Spring Boot") == ["Spring Boot"]


def test_broader_skills_follow_specific_ones() -> None:
    lex = lexicon()
    assert "message-queues" in lex.broader("apache-kafka")
    assert {"relational-databases", "sql"} <= lex.broader("postgresql")


def test_the_shipped_file_is_compact_and_attributed() -> None:
    folder = resources.files("cv_evaluator.evaluation").joinpath("data")
    raw = folder.joinpath("skills_lexicon.json").read_bytes()
    assert len(raw) < 1_000_000
    data = json.loads(raw)
    assert data["version"] == lexicon().version
    assert {"onet", "esco", "curated"} <= set(data["sources"])
    attribution = folder.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "O*NET 29.2 Database" in attribution
    assert "CC BY 4.0" in attribution
    assert "ESCO" in attribution
    assert len(lexicon()) > 10_000
