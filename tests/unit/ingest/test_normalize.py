from __future__ import annotations

import pytest

from cv_evaluator.ingest.normalize import clean_text, truncate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb\rc\nd", "a\nb\nc\nd"),
        ("page one\fpage two", "page one\npage two"),
        ("line\u2028next", "line\nnext"),
        ("bell\x07 and escape\x1b[31m", "bell and escape[31m"),
        ("keep\ttab", "keep\ttab"),
        ("many     spaces\u00a0\u2003here", "many spaces here"),
        ("spaces \t\t and tabs", "spaces\tand tabs"),
        ("trailing   \nspace", "trailing\nspace"),
        ("para one\n\n\n\n\npara two", "para one\n\npara two"),
        ("\n\n  \n lead and trail \n\n", " lead and trail"),
        ("- item\n    - nested item", "- item\n    - nested item"),
        ("   \n\t\n", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_never_keeps_nul() -> None:
    assert "\x00" not in clean_text("a\x00b")


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("short", 10) == ("short", False)


def test_truncate_cuts_and_reports() -> None:
    cut, truncated = truncate("word " * 10, 12)
    assert truncated
    assert len(cut) <= 12
    assert cut == "word word wo"
