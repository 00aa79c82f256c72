from __future__ import annotations

from cv_evaluator.evaluation.chunking import ChunkKind, chunk_document, heading_of

JOB = """# Backend Engineer

## Requirements
- 3+ years of Python
  building APIs in production.
- PostgreSQL or MySQL

Required Experience: A minimum of two years as a data engineer.

## Nice to have
* Kubernetes
"""


def test_bullets_stay_whole_and_know_their_heading() -> None:
    chunks = chunk_document(JOB, "job_description", prefix="jd")
    bullets = [c for c in chunks if c.kind is ChunkKind.BULLET]
    assert [c.text for c in bullets] == [
        "3+ years of Python\n  building APIs in production.",
        "PostgreSQL or MySQL",
        "Kubernetes",
    ]
    assert bullets[0].section == "Requirements"
    assert bullets[-1].path == ("Backend Engineer", "Nice to have")


def test_every_chunk_is_an_exact_slice_with_a_stable_id() -> None:
    chunks = chunk_document(JOB, "job_description", prefix="jd")
    for chunk in chunks:
        assert JOB[chunk.start : chunk.end] == chunk.text
    assert [c.id for c in chunks] == [c.id for c in chunk_document(JOB, "job_description", "jd")]
    assert chunks[0].id == "jd-000"


def test_an_inline_heading_opens_its_section() -> None:
    chunks = chunk_document(JOB, "job_description")
    sentence = next(c for c in chunks if c.text.startswith("A minimum of two years"))
    assert sentence.section == "Required Experience"


def test_plain_text_headings_are_recognised_but_degree_lines_are_not() -> None:
    assert heading_of("EXPERIENCE") == "EXPERIENCE"
    assert heading_of("Work Experience:") == "Work Experience"
    assert heading_of("**Skills**") == "Skills"
    assert heading_of("Bachelor of Science in Computer Science") is None
    assert heading_of("Built REST APIs in Python.") is None


def test_prose_is_split_into_sentences() -> None:
    text = "I build APIs. I mentor engineers! Do I test? Always.\n"
    chunks = chunk_document(text, "cv")
    assert [c.text for c in chunks] == [
        "I build APIs.",
        "I mentor engineers!",
        "Do I test?",
        "Always.",
    ]


def test_a_new_entry_under_a_bullet_is_not_glued_to_it() -> None:
    text = "## Experience\n- Built things\nEngineer, Foo (2015 - 2019)\n- Did more\n"
    texts = [c.text for c in chunk_document(text, "cv") if c.kind is not ChunkKind.HEADING]
    assert texts == ["Built things", "Engineer, Foo (2015 - 2019)", "Did more"]
