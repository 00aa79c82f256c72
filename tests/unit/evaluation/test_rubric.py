from __future__ import annotations

import json

import pytest
import yaml

from cv_evaluator.domain.errors import ErrorCode, InvalidRubric
from cv_evaluator.domain.evaluation import RubricGroup
from cv_evaluator.evaluation.rubric import (
    MAX_RUBRIC_CHARS,
    default_rubric,
    default_rubric_text,
    load_rubric,
)


def minimal(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "mini",
        "version": "2",
        "cv": {"skills": {"weight": 0.6}, "attitude": {"weight": 0.4}},
        "project": {"works": {"weight": 1.0, "label": "It works"}},
    }
    data.update(overrides)
    return data


def test_default_rubric_matches_the_design_weights() -> None:
    rubric = default_rubric()
    assert {p.key: p.weight for p in rubric.cv} == {
        "technical_skills": 0.40,
        "experience_level": 0.25,
        "relevant_achievements": 0.20,
        "cultural_fit": 0.15,
    }
    assert {p.key: p.weight for p in rubric.project} == {
        "correctness": 0.30,
        "code_quality": 0.25,
        "resilience": 0.20,
        "documentation": 0.15,
        "creativity": 0.10,
    }
    for param in rubric.parameters:
        assert param.label
        assert param.description
        assert sorted(param.guidance) == [1, 2, 3, 4, 5]
    assert (rubric.scale_min, rubric.scale_max) == (1, 5)
    assert len(rubric.content_hash) == 64


def test_yaml_and_json_forms_of_one_rubric_hash_the_same() -> None:
    data = yaml.safe_load(default_rubric_text())
    from_json = load_rubric(json.dumps(data))
    from_yaml = load_rubric(default_rubric_text())
    assert from_json == from_yaml
    assert from_json.content_hash == from_yaml.content_hash


def test_comments_and_spacing_do_not_change_the_hash() -> None:
    text = yaml.safe_dump(minimal(), sort_keys=False)
    noisy = "# a comment\n\n" + text.replace(": ", ":   ")
    assert load_rubric(text).content_hash == load_rubric(noisy).content_hash


def test_a_changed_weight_changes_the_hash() -> None:
    other = minimal(cv={"skills": {"weight": 0.5}, "attitude": {"weight": 0.5}})
    assert (
        load_rubric(json.dumps(minimal())).content_hash
        != load_rubric(json.dumps(other)).content_hash
    )


def test_list_form_of_a_group_is_accepted() -> None:
    data = minimal(project=[{"key": "works", "weight": 1}])
    rubric = load_rubric(json.dumps(data))
    assert rubric.project[0].key == "works"
    assert rubric.project[0].group is RubricGroup.PROJECT
    assert rubric.project[0].label == "Works"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (minimal(cv={}), "cv group has no parameters"),
        ({"name": "x", "project": {"a": {"weight": 1}}}, "cv group is missing"),
        (
            minimal(cv={"skills": {"weight": 0.6}, "att": {"weight": 0.3}}),
            "weights sum to 0.900000",
        ),
        (minimal(cv={"skills": {"weight": 1.2}}), "must be in (0, 1]"),
        (minimal(cv={"skills": {"weight": 0}, "b": {"weight": 1}}), "must be in (0, 1]"),
        (minimal(cv={"skills": {"weight": "0.5"}, "b": {"weight": 0.5}}), "must be a number"),
        (minimal(cv={"skills": {"weight": True}}), "must be a number"),
        (minimal(cv={"Skills": {"weight": 1}}), "must match ^[a-z][a-z0-9_]*$"),
        (minimal(cv={"1skills": {"weight": 1}}), "must match"),
        (minimal(project={"skills": {"weight": 1}}), "used more than once"),
        (minimal(scale={"min": 0, "max": 10}), "scale must be 1 to 5"),
        (minimal(cv={"a": {"weight": 1, "guidance": {6: "x"}}}), "outside the scale"),
        (minimal(cv={"a": {"weight": 1, "colour": "red"}}), "unknown fields: colour"),
        (minimal(extra=1), "unknown fields: extra"),
        (minimal(cv={"a": {"weight": 1, "label": "x" * 500}}), "longer than"),
        (minimal(cv={f"p{i}": {"weight": 1 / 25} for i in range(25)}), "more than 20"),
    ],
)
def test_invalid_rubrics_are_rejected_precisely(data: object, fragment: str) -> None:
    with pytest.raises(InvalidRubric) as info:
        load_rubric(json.dumps(data))
    assert fragment in info.value.message
    assert info.value.code is ErrorCode.INVALID_RUBRIC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[1, 2",
        "{not json",
        "cv: [unclosed",
        "- just\n- a list\n",
        "a: &x {b: 1}\nc: *x\n",
        "name: a\nname: b\ncv: {a: {weight: 1}}\nproject: {b: {weight: 1}}\n",
        '{"name": "a", "name": "b"}',
        '{"cv": {"a": {"weight": NaN}}}',
        "!!python/object:os.system {}",
        "x" * (MAX_RUBRIC_CHARS + 1),
        "[" * 5000,
    ],
)
def test_malformed_text_never_escapes_as_a_raw_exception(text: str) -> None:
    with pytest.raises(InvalidRubric) as info:
        load_rubric(text)
    assert info.value.message


def test_duplicate_key_reports_the_line() -> None:
    text = "name: a\ncv:\n  a: {weight: 1}\n  a: {weight: 1}\nproject: {b: {weight: 1}}\n"
    with pytest.raises(InvalidRubric) as info:
        load_rubric(text)
    assert info.value.details["line"] == 4


def test_weights_within_tolerance_are_accepted() -> None:
    data = minimal(cv={"a": {"weight": 0.1}, "b": {"weight": 0.2}, "c": {"weight": 0.7}})
    rubric = load_rubric(json.dumps(data))
    assert rubric.cv_match_rate({"a": 5, "b": 5, "c": 5, "works": 1}) == 1.0
