"""Format-independent clean-up: one newline convention, no control characters, tidy spacing."""

from __future__ import annotations

import re

# Form feeds and Unicode line/paragraph separators end a line for a human reader, so they become
# newlines instead of disappearing and gluing two words together.
_LINE_BREAKS = re.compile("\r\n|[\r\f\v\x85\u2028\u2029]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_INLINE_WHITESPACE = re.compile(r"[^\S\n]+")
_LEADING_INDENT = re.compile(r"[ \t]*")


def clean_text(text: str) -> str:
    """Normalise line breaks, drop control characters, collapse spacing, keep paragraph breaks."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL_CHARS.sub("", text)
    lines = [_tidy_line(line) for line in text.split("\n")]
    return "\n".join(_squeeze_blank_lines(lines)).strip("\n")


def truncate(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars].rstrip(), True


def _tidy_line(line: str) -> str:
    # Leading indentation carries meaning in Markdown (nested lists, code blocks); inside the line
    # runs of spaces are only layout noise from PDF positioning.
    indent_match = _LEADING_INDENT.match(line)
    indent = indent_match.group(0) if indent_match else ""
    body = _INLINE_WHITESPACE.sub(_collapse, line[len(indent) :]).strip()
    return f"{indent}{body}" if body else ""


def _collapse(run: re.Match[str]) -> str:
    # A tab usually separates table cells or columns; keep one as the separator.
    return "\t" if "\t" in run.group(0) else " "


def _squeeze_blank_lines(lines: list[str]) -> list[str]:
    squeezed: list[str] = []
    for line in lines:
        if line or (squeezed and squeezed[-1]):
            squeezed.append(line)
    return squeezed
