"""The graphics-state walk that labels PDF text operators visible or hidden."""

from __future__ import annotations

from typing import Any

import pytest

from cv_evaluator.ingest.pdf_visibility import Operation, split_by_visibility


def op(operator: str, *operands: Any) -> Operation:
    return (list(operands), operator.encode())


def shown_text(operations: list[Operation]) -> list[str]:
    return [str(operands[0]) for operands, operator in operations if operator == b"Tj"]


def split(*operations: Operation) -> tuple[list[str], list[str]]:
    result = split_by_visibility(list(operations))
    assert result is not None, "expected some hidden text"
    return shown_text(result.visible), shown_text(result.hidden)


FONT = op("Tf", "/F1", 11)


def test_nothing_hidden_returns_none() -> None:
    assert split_by_visibility([op("BT"), FONT, op("Tj", "hello"), op("ET")]) is None


@pytest.mark.parametrize(
    "colour",
    [op("g", 1), op("rg", 1, 1, 1), op("k", 0, 0, 0, 0), op("sc", 1, 1, 1), op("rg", 0.97, 1, 1)],
    ids=["gray", "rgb", "cmyk", "sc", "near-white"],
)
def test_white_fill_is_hidden(colour: Operation) -> None:
    visible, hidden = split(FONT, op("BT"), op("Tj", "seen"), colour, op("Tj", "unseen"), op("ET"))
    assert (visible, hidden) == (["seen"], ["unseen"])


def test_light_grey_is_still_visible() -> None:
    assert split_by_visibility([FONT, op("g", 0.8), op("Tj", "grey")]) is None


def test_restoring_graphics_state_restores_colour() -> None:
    visible, hidden = split(
        FONT, op("q"), op("g", 1), op("Tj", "white"), op("Q"), op("Tj", "black")
    )
    assert (visible, hidden) == (["black"], ["white"])


def test_selecting_a_colour_space_resets_to_black() -> None:
    visible, hidden = split(
        FONT, op("g", 1), op("Tj", "white"), op("cs", "/DeviceRGB"), op("Tj", "b")
    )
    assert (visible, hidden) == (["b"], ["white"])


def test_pattern_colour_is_assumed_visible() -> None:
    assert split_by_visibility([FONT, op("scn", "/P0"), op("Tj", "x")]) is None


@pytest.mark.parametrize("mode", [3, 7])
def test_invisible_render_modes_are_hidden(mode: int) -> None:
    visible, hidden = split(
        FONT, op("Tj", "a"), op("Tr", mode), op("Tj", "b"), op("Tr", 0), op("Tj", "c")
    )
    assert (visible, hidden) == (["a", "c"], ["b"])


def test_stroke_only_text_uses_the_stroke_colour() -> None:
    visible, hidden = split(
        FONT, op("g", 1), op("Tr", 1), op("Tj", "outlined"), op("RG", 1, 1, 1), op("Tj", "white")
    )
    assert (visible, hidden) == (["outlined"], ["white"])


def test_tiny_font_is_hidden() -> None:
    visible, hidden = split(FONT, op("Tj", "big"), op("Tf", "/F1", 1.5), op("Tj", "small"))
    assert (visible, hidden) == (["big"], ["small"])


def test_text_matrix_scales_the_font() -> None:
    # Tf 1 scaled by a 12-unit text matrix is ordinary 12 pt text.
    operations = [op("Tf", "/F1", 1), op("BT"), op("Tm", 12, 0, 0, 12, 50, 700), op("Tj", "ok")]
    assert split_by_visibility(operations) is None


def test_text_matrix_is_reset_by_each_text_object() -> None:
    visible, hidden = split(
        op("Tf", "/F1", 1),
        op("BT"),
        op("Tm", 12, 0, 0, 12, 50, 700),
        op("Tj", "scaled"),
        op("ET"),
        op("BT"),
        op("Tj", "unscaled"),
        op("ET"),
    )
    assert (visible, hidden) == (["scaled"], ["unscaled"])


def test_transformation_matrix_shrinks_text() -> None:
    visible, hidden = split(
        FONT,
        op("q"),
        op("cm", 0.1, 0, 0, 0.1, 0, 0),
        op("Tj", "shrunk"),
        op("Q"),
        op("Tj", "normal"),
    )
    assert (visible, hidden) == (["normal"], ["shrunk"])


def test_unbalanced_restore_does_not_crash() -> None:
    assert split_by_visibility([op("Q"), op("Q"), FONT, op("Tj", "x")]) is None


def test_removed_quote_operators_keep_their_line_movement() -> None:
    result = split_by_visibility(
        [FONT, op("g", 1), op("'", "a"), op('"', 1, 2, "b"), op("g", 0), op("Tj", "c")]
    )
    assert result is not None
    assert [operator for _, operator in result.visible] == [
        b"Tf",
        b"g",
        b"T*",
        b"Tw",
        b"Tc",
        b"T*",
        b"g",
        b"Tj",
    ]
    assert [operator for _, operator in result.hidden] == [b"Tf", b"g", b"'", b'"', b"g"]


def test_malformed_operands_are_ignored() -> None:
    operations = [op("Tf", "/F1"), op("rg", "x"), op("Tr"), op("cm", 1), op("Tj", "x")]
    assert split_by_visibility(operations) is None
