"""Plain text and Markdown: strict decoding and a deterministic Markdown heuristic."""

from __future__ import annotations

import codecs
import re
import unicodedata

from cv_evaluator.ingest.extraction import RawExtraction

# Below this share of printable characters the "text" is most likely binary that happens to be
# valid UTF-8 (a short random blob often is).
MIN_PRINTABLE_RATIO = 0.95
_SAMPLE_CHARS = 64 * 1024
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})

_MARKDOWN_SUFFIXES = (".md", ".markdown")
_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+\S", re.MULTILINE)
_LINK = re.compile(r"!?\[[^\]\n]+\]\([^)\s]+\)")
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
_EMPHASIS = re.compile(r"(?:\*\*|__)[^\s*_](?:[^\n]*?[^\s*_])?(?:\*\*|__)")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*\|", re.MULTILINE)
# Two different kinds of Markdown syntax are required because any single one (a dash list, a "#"
# line) also occurs in ordinary plain text.
_MIN_MARKDOWN_SIGNALS = 2


def decode_text(data: bytes) -> str | None:
    """Decode UTF-8 (optionally with BOM) or BOM-marked UTF-16; None when it is not such text."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_mostly_printable(text: str) -> bool:
    sample = text[:_SAMPLE_CHARS]
    if not sample:
        return True
    unprintable = sum(1 for char in sample if _is_unprintable(char))
    return (len(sample) - unprintable) / len(sample) >= MIN_PRINTABLE_RATIO


def looks_like_markdown(text: str, filename: str) -> bool:
    if filename.lower().endswith(_MARKDOWN_SUFFIXES):
        return True
    sample = text[:_SAMPLE_CHARS]
    signals = (
        _HEADING.search(sample) is not None,
        len(_LIST_ITEM.findall(sample)) >= 2,
        _LINK.search(sample) is not None,
        _FENCE.search(sample) is not None,
        _EMPHASIS.search(sample) is not None,
        _TABLE_RULE.search(sample) is not None,
    )
    return sum(signals) >= _MIN_MARKDOWN_SIGNALS


def extract_text(data: bytes) -> RawExtraction:
    decoded = decode_text(data)
    # The sniffer only routes decodable data here; an empty result is still safe for the caller.
    return RawExtraction(text=decoded or "")


def _is_unprintable(char: str) -> bool:
    if char in _ALLOWED_CONTROLS:
        return False
    return unicodedata.category(char) in _UNPRINTABLE_CATEGORIES
