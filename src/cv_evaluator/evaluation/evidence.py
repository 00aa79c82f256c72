"""Quotes cut from the candidate's own text, and checked to be there before they are stored."""

from __future__ import annotations

from collections.abc import Iterable

from cv_evaluator.evaluation.analysis import SKILL_PREFIX, fold_term
from cv_evaluator.evaluation.documents import PreparedDocument, Segment
from cv_evaluator.evaluation.lexicon import find_skills
from cv_evaluator.evaluation.text import normalize, term, tokenize

__all__ = ["MAX_QUOTE_CHARS", "quote", "verified"]

MAX_QUOTE_CHARS = 220


def _spans(text: str, keys: frozenset[str]) -> list[tuple[int, int]]:
    spans = [(t.start, t.end) for t in tokenize(text) if fold_term(term(t.text)) in keys]
    skill_keys = {k[len(SKILL_PREFIX) :] for k in keys if k.startswith(SKILL_PREFIX)}
    if skill_keys:
        spans += [(m.start, m.end) for m in find_skills(text) if m.skill_id in skill_keys]
    return sorted(spans)


def _snap_left(text: str, pos: int, floor: int) -> int:
    while pos > floor and not text[pos - 1].isspace():
        pos -= 1
    return pos


def _snap_right(text: str, pos: int, ceiling: int) -> int:
    while pos < ceiling and not text[pos].isspace():
        pos += 1
    return pos


def quote(document: PreparedDocument, segment: Segment, keys: Iterable[str] = ()) -> str:
    """The segment itself when short, else the window around the matched words."""
    start, end = segment.chunk.start, segment.chunk.end
    if end - start <= MAX_QUOTE_CHARS:
        return document.quote(start, end).strip()
    local = normalize(document.text[start:end])
    spans = _spans(local, frozenset(keys))
    if spans:
        first, last = spans[0][0], spans[-1][1]
    else:
        first, last = 0, 0
    if last - first > MAX_QUOTE_CHARS:
        last = spans[0][1]
    pad = max(0, (MAX_QUOTE_CHARS - (last - first)) // 2)
    left = max(0, first - pad)
    right = min(len(local), left + MAX_QUOTE_CHARS)
    left = max(0, min(left, right - MAX_QUOTE_CHARS))
    left = _snap_left(local, left, 0) if left > 0 else 0
    right = _snap_right(local, right, len(local)) if right < len(local) else right
    if right - left > MAX_QUOTE_CHARS + 40:
        right = left + MAX_QUOTE_CHARS
    return document.quote(start + left, start + right).strip()


def verified(quotes: Iterable[str], text: str, limit: int = 3) -> tuple[str, ...]:
    """Distinct quotes that occur verbatim in ``text``; anything else is dropped, not stored."""
    out: list[str] = []
    for item in quotes:
        if item and item in text and item not in out:
            out.append(item)
        if len(out) >= limit:
            break
    return tuple(out)
