"""Find PDF text a reader cannot see: white fill, invisible render mode, or a tiny font.

The content stream is walked once with a minimal graphics state, and every text-showing operator
is labelled visible or hidden. Two filtered copies of the operator list then let pypdf do the
hard part (fonts, encodings, spacing) for each side separately. Tracking colour inside pypdf's
own text visitor would not be reliable: it reports text in batches, after the colour may have
changed again.

Known gap: text inside form XObjects (drawn with ``Do``) is not classified and counts as visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

Operation = tuple[list[Any], bytes]

# Text a reader cannot make out: under 2 pt, or a fill this close to white on a white page.
MIN_VISIBLE_FONT_SIZE = 2.0
WHITE_LEVEL = 0.95
_INVISIBLE_RENDER_MODES = frozenset({3, 7})
_STROKE_ONLY_RENDER_MODES = frozenset({1, 5})
_TEXT_SHOWING = frozenset({b"Tj", b"TJ", b"'", b'"'})
_FILL_COLOUR = frozenset({b"g", b"rg", b"k", b"sc", b"scn"})
_STROKE_COLOUR = frozenset({b"G", b"RG", b"K", b"SC", b"SCN"})
_GRAY, _RGB, _CMYK = 1, 3, 4


@dataclass(frozen=True, slots=True)
class _GraphicsState:
    fill_white: bool = False
    stroke_white: bool = False
    render_mode: int = 0
    font_size: float | None = None
    ctm_scale: float = 1.0


@dataclass(frozen=True, slots=True)
class VisibilitySplit:
    visible: list[Operation]
    hidden: list[Operation]


class _Walker:
    def __init__(self) -> None:
        self.state = _GraphicsState()
        self.saved: list[_GraphicsState] = []
        # The text matrix belongs to the current text object, not to the saved graphics state.
        self.text_matrix_scale = 1.0

    def is_hidden(self, operator: bytes) -> bool:
        if operator not in _TEXT_SHOWING:
            return False
        state = self.state
        return (
            state.render_mode in _INVISIBLE_RENDER_MODES
            or _paints_white(state)
            or self._effective_font_size() < MIN_VISIBLE_FONT_SIZE
        )

    def _effective_font_size(self) -> float:
        if self.state.font_size is None:
            return math.inf  # no font selected yet: nothing to judge the size by
        scale = self.text_matrix_scale * self.state.ctm_scale
        return abs(self.state.font_size) * scale

    def apply(self, operator: bytes, operands: list[Any]) -> None:
        if operator == b"q":
            self.saved.append(self.state)
        elif operator == b"Q":
            self.state = self.saved.pop() if self.saved else _GraphicsState()
        elif operator == b"BT":
            self.text_matrix_scale = 1.0
        elif operator == b"Tm":
            scale = _matrix_scale(operands)
            if scale is not None:
                self.text_matrix_scale = scale
        elif operator == b"cm":
            scale = _matrix_scale(operands)
            if scale is not None:
                self.state = replace(self.state, ctm_scale=self.state.ctm_scale * scale)
        else:
            self.state = _text_or_colour_change(self.state, operator, operands)


def _paints_white(state: _GraphicsState) -> bool:
    if state.render_mode in _STROKE_ONLY_RENDER_MODES:
        return state.stroke_white
    return state.fill_white


def split_by_visibility(operations: list[Operation]) -> VisibilitySplit | None:
    """Visible-only and hidden-only copies of the operations; None when nothing is hidden."""
    walker = _Walker()
    visible: list[Operation] = []
    hidden: list[Operation] = []
    found_hidden = False
    for operands, operator in operations:
        operation = (operands, operator)
        if walker.is_hidden(operator):
            found_hidden = True
            visible.extend(_without_text(operation))
            hidden.append(operation)
        else:
            visible.append(operation)
            hidden.extend(_without_text(operation) if operator in _TEXT_SHOWING else [operation])
        walker.apply(operator, operands)
    if not found_hidden:
        return None
    return VisibilitySplit(visible=visible, hidden=hidden)


def _text_or_colour_change(
    state: _GraphicsState, operator: bytes, operands: list[Any]
) -> _GraphicsState:
    if operator == b"Tr":
        mode = _numbers(operands)
        return replace(state, render_mode=int(mode[0])) if mode else state
    if operator == b"Tf":
        size = _numbers(operands[1:2])
        return replace(state, font_size=size[0]) if size else state
    if operator in _FILL_COLOUR:
        return replace(state, fill_white=_is_white(operands))
    if operator in _STROKE_COLOUR:
        return replace(state, stroke_white=_is_white(operands))
    # Selecting a colour space resets the colour to that space's initial value, which is black.
    if operator == b"cs":
        return replace(state, fill_white=False)
    if operator == b"CS":
        return replace(state, stroke_white=False)
    return state


def _without_text(operation: Operation) -> list[Operation]:
    """Replacement for a text-showing operation that keeps its line movement but shows nothing."""
    operands, operator = operation
    if operator == b"'":
        return [([], b"T*")]
    if operator == b'"' and len(operands) >= 2:
        return [([operands[0]], b"Tw"), ([operands[1]], b"Tc"), ([], b"T*")]
    return []


def _is_white(operands: list[Any]) -> bool:
    values = _numbers(operands)
    if values is None or len(values) != len(operands):
        return False  # a pattern colour (named operand) or garbage: assume it is visible
    if len(values) in (_GRAY, _RGB):
        return all(value >= WHITE_LEVEL for value in values)
    if len(values) == _CMYK:
        return all(value <= 1 - WHITE_LEVEL for value in values)
    return False


def _matrix_scale(operands: list[Any]) -> float | None:
    values = _numbers(operands)
    if values is None or len(values) < 4:
        return None
    a, b, c, d = values[:4]
    return math.sqrt(abs(a * d - b * c))


def _numbers(operands: list[Any]) -> list[float] | None:
    numbers = [
        float(op) for op in operands if isinstance(op, int | float) and not isinstance(op, bool)
    ]
    if not numbers or not all(math.isfinite(value) for value in numbers):
        return None
    return numbers
