"""WordprocessingML to text: paragraphs, runs, tabs and breaks, with hidden runs set aside."""

from __future__ import annotations

from dataclasses import dataclass, field

# Only the element type comes from the standard library; all parsing goes through defusedxml.
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from cv_evaluator.domain.errors import UnprocessableDocument

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_PARAGRAPH = f"{_W}p"
_RUN = f"{_W}r"
_RUN_PROPERTIES = f"{_W}rPr"
_VAL = f"{_W}val"
_RUN_CONTENT = {
    f"{_W}t": None,
    f"{_W}tab": "\t",
    f"{_W}br": "\n",
    f"{_W}cr": "\n",
    f"{_W}noBreakHyphen": "-",
}
# Deleted revisions, field codes and the fallback copy of alternate content are not what a
# reader sees (the fallback would duplicate every text box).
_SKIPPED = frozenset({f"{_W}del", f"{_W}moveFrom", f"{_W}instrText", f"{_W}delText", _MC_FALLBACK})
_OFF_VALUES = frozenset({"0", "false", "off"})
# Half-points: below 4 the text is under 2 pt, unreadable on paper.
MIN_VISIBLE_HALF_POINTS = 4
# Each RGB channel at or above this is indistinguishable from white on a white page.
WHITE_CHANNEL_MIN = 0xF2


@dataclass(slots=True)
class _Paragraph:
    visible: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DocxText:
    text: str
    hidden_text: str


def parse_part(data: bytes, part: str) -> Element:
    """Parse one XML part, refusing DTDs and entities (billion laughs, external entities)."""
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnprocessableDocument(
            "The document contains forbidden XML constructs (DTD or entities).",
            details={"reason": "forbidden_xml", "part": part},
        ) from exc
    except ParseError as exc:
        raise UnprocessableDocument(
            "The document contains malformed XML.",
            details={"reason": "invalid_xml", "part": part},
        ) from exc


def document_text(root: Element) -> DocxText:
    paragraphs = _collect_paragraphs(root)
    visible = "\n".join("".join(paragraph.visible) for paragraph in paragraphs)
    hidden = "\n".join(text for p in paragraphs if (text := "".join(p.hidden).strip()))
    return DocxText(text=visible, hidden_text=hidden)


def _collect_paragraphs(root: Element) -> list[_Paragraph]:
    # An explicit stack instead of recursion: hostile documents can nest elements deeply enough
    # to exhaust the interpreter's recursion limit.
    paragraphs: list[_Paragraph] = []
    stack: list[tuple[Element, _Paragraph | None]] = [(root, None)]
    while stack:
        element, paragraph = stack.pop()
        if element.tag in _SKIPPED:
            continue
        if element.tag == _PARAGRAPH:
            paragraph = _Paragraph()
            paragraphs.append(paragraph)
        children = list(element)
        if element.tag == _RUN and paragraph is not None:
            target = paragraph.hidden if is_hidden_run(element) else paragraph.visible
            target.extend(_run_pieces(children))
            # Run content is consumed; other children (drawings) may still hold text boxes.
            children = [child for child in children if child.tag not in _RUN_CONTENT]
        stack.extend((child, paragraph) for child in reversed(children))
    return paragraphs


def _run_pieces(children: list[Element]) -> list[str]:
    pieces: list[str] = []
    for child in children:
        if child.tag not in _RUN_CONTENT:
            continue
        fixed = _RUN_CONTENT[child.tag]
        pieces.append(fixed if fixed is not None else child.text or "")
    return pieces


def is_hidden_run(run: Element) -> bool:
    properties = run.find(_RUN_PROPERTIES)
    if properties is None:
        return False
    return (
        _is_on(properties.find(f"{_W}vanish"))
        or _is_white(properties.find(f"{_W}color"))
        or _is_tiny(properties.find(f"{_W}sz"))
    )


def _is_on(toggle: Element | None) -> bool:
    if toggle is None:
        return False
    return toggle.get(_VAL, "true").strip().lower() not in _OFF_VALUES


def _is_white(color: Element | None) -> bool:
    value = "" if color is None else color.get(_VAL, "").strip()
    if len(value) != 6:
        return False
    try:
        channels = [int(value[i : i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        return False
    return all(channel >= WHITE_CHANNEL_MIN for channel in channels)


def _is_tiny(size: Element | None) -> bool:
    if size is None:
        return False
    try:
        return float(size.get(_VAL, "")) < MIN_VISIBLE_HALF_POINTS
    except ValueError:
        return False
