"""Split documents into headed sections and whole requirements (bullets, sentences).

A requirement is the unit a reader ticks off, so a bullet stays whole even when it wraps over
several lines; prose is split into sentences. Every chunk is an exact slice of the text it came
from (``text[start:end]``), which is what lets evidence be verified later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Chunk", "ChunkKind", "chunk_document", "heading_of"]

MAX_SENTENCE_CHARS = 600


class ChunkKind(StrEnum):
    HEADING = "heading"
    BULLET = "bullet"
    SENTENCE = "sentence"


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    source: str
    section: str  # the nearest heading above the chunk, "" before the first heading
    kind: ChunkKind
    text: str  # exactly ``document[start:end]``
    start: int
    end: int
    index: int  # position in the document, for stable ordering
    path: tuple[str, ...] = ()  # enclosing headings, outermost first (a heading: its parents)


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(?P<title>.*?)\s*#*\s*$")
_BOLD_HEADING = re.compile(r"^\s*(?:\*\*|__)(?P<title>[^*_]{2,80})(?:\*\*|__)\s*:?\s*$")
_COLON_HEADING = re.compile(r"^\s*(?P<title>[A-Za-z][\w &/'()+-]{1,60}):\s*$")
_INLINE_HEADING = re.compile(r"^\s*(?P<title>[A-Za-z][A-Za-z &/]{2,40}):\s+(?P<rest>\S.*)$")
_BULLET = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*•+–·▪◦○●►▸✓✔]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9•])")

# Plain-text CVs (PDF extraction) mark sections with bare words; only these count as headings so
# that a short title-case line such as a degree name is not mistaken for one.
_SECTION_WORDS = re.compile(
    r"^(?:(?:professional|work|relevant|technical|key|core|personal|career|employment|"
    r"required|preferred|desired|minimum|job|main|additional|other)\s+)?"
    r"(?:summary|profile|about(?: me)?|objective|experience|employment(?: history)?|"
    r"work history|career history|skills|technical skills|competencies|technologies|tools|"
    r"education|projects?|achievements|accomplishments|awards|certifications?|publications|"
    r"languages|interests|hobbies|references|volunteering|volunteer experience|leadership|"
    r"contact|information|details|qualifications|requirements|responsibilities|"
    r"nice to have|bonus|overview|background|highlights|expertise|strengths)$",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Line:
    start: int
    end: int
    text: str


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        out.append(_Line(pos, pos + len(body), body))
        pos += len(raw)
    return out


def heading_of(line: str) -> str | None:
    """The title if ``line`` is a section heading, else None."""
    found = _heading(line)
    return found[0] if found else None


def _heading(line: str) -> tuple[str, int] | None:
    """Title and level: markdown levels as written; bare section words and upper-case lines
    open top-level sections (2), bold and "Title:" lines sit below them (3)."""
    stripped = line.strip()
    if not stripped or len(stripped) > 120:
        return None
    md = _MD_HEADING.match(stripped)
    if md and stripped.startswith("#"):
        title = md.group("title").strip().strip("*_").strip()
        level = len(stripped) - len(stripped.lstrip("#"))
        return (title, level) if title else None
    for pattern in (_BOLD_HEADING, _COLON_HEADING):
        match = pattern.match(stripped)
        if match:
            title = match.group("title").strip().strip("*_").strip()
            if not title:
                return None
            return title, 2 if _SECTION_WORDS.match(title) else 3
    bare = stripped.rstrip(":").strip()
    if _SECTION_WORDS.match(bare):
        return bare, 2
    words = bare.split()
    # "1. ASP.NET" or "- AWS" is a list item naming an acronym, not a shouted heading
    listed = _BULLET.match(line) is not None
    if 1 <= len(words) <= 4 and bare.isupper() and any(ch.isalpha() for ch in bare) and not listed:
        return bare, 2
    return None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        s, e = _trim(text, s, e)
        # Runaway "sentences" (tables flattened by PDF extraction) are cut at whitespace.
        while e - s > MAX_SENTENCE_CHARS:
            cut = text.rfind(" ", s, s + MAX_SENTENCE_CHARS)
            cut = cut if cut > s else s + MAX_SENTENCE_CHARS
            out.append(_trim(text, s, cut))
            s, e = _trim(text, cut, e)
        if e > s:
            out.append((s, e))
    return out


_JOINERS = (",", "-", "/", "&", "(", ";", " and", " or", " with", " of", " in", " to", " the")


def _continues(previous: str, line: str, kind: str) -> bool:
    """Whether ``line`` wraps the block before it rather than starting a new one.

    Extracted PDFs wrap long bullets and sentences without indentation, while CVs also put a new
    entry ("Engineer, Acme (2019-2023)") right under a bullet; a wrap starts in lower case, is
    indented, or follows a line that plainly did not end.
    """
    stripped = line.lstrip()
    if not stripped:
        return False
    if line[: len(line) - len(stripped)] and kind == "bullet":
        return True
    first = stripped[0]
    tail = previous.rstrip()
    if first.islower():
        return True
    if tail.endswith(_JOINERS):
        return True
    last = tail.split("\n")[-1]
    if kind == "para" and not tail.endswith((".", "!", "?", ":")) and len(last) >= 60:
        return True
    # "A minimum of 4 years is required in:" introduces what follows
    return kind == "para" and tail.endswith(":") and len(last) >= 30


def chunk_document(text: str, source: str, prefix: str | None = None) -> list[Chunk]:
    """Chunks of ``text`` in document order; ids are ``<prefix>-<n>`` and stable for a text."""
    tag = prefix or source
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []  # (level, title) of the enclosing headings

    def emit(kind: ChunkKind, start: int, end: int) -> None:
        start, end = _trim(text, start, end)
        if end <= start:
            return
        index = len(chunks)
        path = tuple(title for _, title in stack)
        chunks.append(
            Chunk(
                id=f"{tag}-{index:03d}",
                source=source,
                section=path[-1] if path else "",
                kind=kind,
                text=text[start:end],
                start=start,
                end=end,
                index=index,
                path=path,
            )
        )

    lines = _lines(text)
    block: tuple[str, int, int] | None = None  # ("bullet" | "para", start, end)

    def flush() -> None:
        nonlocal block
        if block is None:
            return
        kind, start, end = block
        if kind == "bullet":
            emit(ChunkKind.BULLET, start, end)
        else:
            for s, e in _sentences(text, start, end):
                emit(ChunkKind.SENTENCE, s, e)
        block = None

    for line in lines:
        if not line.text.strip():
            flush()
            continue
        found = _heading(line.text)
        if found is not None:
            flush()
            title, level = found
            while stack and stack[-1][0] >= level:
                stack.pop()
            offset = line.text.find(title)
            if offset >= 0:
                emit(ChunkKind.HEADING, line.start + offset, line.start + offset + len(title))
            stack.append((level, title))
            continue
        inline = _INLINE_HEADING.match(line.text)
        if inline is not None and _SECTION_WORDS.match(inline.group("title").strip()):
            # "Required Experience: A minimum of two years ..." opens a section on its own line
            flush()
            title = inline.group("title").strip()
            while stack and stack[-1][0] >= 2:
                stack.pop()
            start = line.start + inline.start("title")
            emit(ChunkKind.HEADING, start, start + len(title))
            stack.append((2, title))
            block = ("para", line.start + inline.start("rest"), line.end)
            continue
        bullet = _BULLET.match(line.text)
        if bullet is not None:
            flush()
            block = ("bullet", line.start + bullet.end(), line.end)
            continue
        if block is not None and _continues(text[block[1] : block[2]], line.text, block[0]):
            block = (block[0], block[1], line.end)
        else:
            flush()
            block = ("para", line.start, line.end)
    flush()
    return chunks
