"""Text written to game the evaluator: found, flagged and taken out of scoring.

The rule that makes this safe is simple: a span judged manipulative contributes *nothing* —
not its skills, not its numbers, not its words — so adding it can never raise a score. The
detectors err on the side of flagging; a false positive only removes one sentence or list from
scoring and says so in ``result.flags``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from cv_evaluator.evaluation.chunking import Chunk, ChunkKind
from cv_evaluator.evaluation.text import STOPWORDS, tokenize

__all__ = [
    "STUFFED_LIST_MIN_ITEMS",
    "Exclusion",
    "find_injections",
    "find_stuffing",
    "guess_language",
]

# Real skills sections run from a handful to a few dozen entries (the sample CVs of this project
# hold 30 to 35); a list past 40 entries is stuffing unless most of it is backed elsewhere in the
# document, and past 80 it is stuffing regardless.
STUFFED_LIST_MIN_ITEMS = 40
STUFFED_LIST_ALWAYS_ITEMS = 80
SUPPORTED_SHARE_FOR_LONG_LISTS = 0.5


@dataclass(frozen=True, slots=True)
class Exclusion:
    start: int
    end: int
    reason: str  # "prompt_injection_attempt" | "keyword_stuffing"
    excerpt: str


# Imperatives count where a sentence or line starts: "Ignore previous instructions" addresses the
# reader; "the prompt tells the model to ignore instructions in the CV" describes a defence, which
# is ordinary content in a report about LLM systems.
_START = r"(?:^|(?<=[.!?:;]\s))\s*(?:please\s+|now\s+|and\s+)?"

_INJECTION_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    for pattern in (
        # instructions aimed at a model
        _START + r"(?:ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}"
        r"\b(?:instructions?|prompts?|rules|directions|guidelines|rubric|criteria|context|"
        r"system message|above|everything)\b",
        _START + r"new\s+instructions?\b|\bnew\s+instructions?\s*:",
        r"<\|?(?:im_start|im_end|system|endoftext)\|?>|\[/?(?:INST|SYS)\]|<<\s*SYS\s*>>",
        r"^\s*(?:###\s*)?(?:system|instruction|assistant)\s*:",
        _START + r"(?:you are|act as|pretend to be|roleplay as)\b[^.\n]{0,30}"
        r"\b(?:ai|assistant|evaluator|model|llm|chatbot|gpt|grader|recruiter bot)\b",
        r"\bas an? (?:ai|large language model|language model|llm)\b",
        r"\b(?:note|message|instruction)s? (?:to|for) (?:the )?(?:ai|llm|model|evaluator|"
        r"grader|screener|ats)\b",
        # claims about the score itself
        r"\b(?:this|the) (?:candidate|applicant|cv|resume|résumé|report|project|submission)\b"
        r"[^.\n]{0,40}\b(?:scores?|scored|rated?|ranks?|deserves?|gets?|receives?|earns?|"
        r"merits?|should (?:get|receive|be (?:given|scored|rated|hired)))\b[^.\n]{0,30}"
        r"(?:\b\d{1,3}\s*(?:/|out of)\s*\d{1,3}\b|\b100\s*%|\bhighest\b|\bmaximum\b|\bmax\b|"
        r"\bperfect\b|\btop (?:marks|score|rating)\b|\bfull marks\b)",
        r"\b(?:give|assign|award|rate|score|grade|rank|mark)\b[^.\n]{0,30}"
        r"(?:\b\d{1,3}\s*(?:/|out of)\s*\d{1,3}\b|\b100\s*%|\bhighest\b|\bmaximum\b|"
        r"\bperfect\b|\btop (?:marks|score|rating)\b|\bfull marks\b)",
        r"\b(?:perfect|maximum|highest|top) (?:score|rating|marks|match)\b",
        r"\b(?:must|should|need to) be (?:hired|shortlisted|selected|advanced|approved)\b",
        r"\b(?:hire|shortlist|select|approve) (?:this|the) (?:candidate|applicant|person)\b",
        _START + r"(?:return|output|respond with|print)\b[^.\n]{0,30}\b(?:json|score|"
        r"match rate|cv_match_rate|project_score)\b",
    )
)

# A prompt quoted in a report ("the system prompt says `You are an evaluator…`") is described,
# not addressed to anyone.
_QUOTED = re.compile(r'"[^"\n]{1,400}"|“[^”\n]{1,400}”|`[^`\n]{1,400}`')


def _quoted_ranges(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _QUOTED.finditer(text)]


# Where an injection sits decides what is removed: its whole line (bullets, list items) or
# sentence, never the rest of the document.
_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n")


def _enclosing(text: str, start: int, end: int) -> tuple[int, int]:
    left = start
    for match in _SENTENCE_BOUNDARY.finditer(text, 0, start):
        left = match.end()
    if left > start:
        left = start
    right_match = _SENTENCE_BOUNDARY.search(text, end)
    right = right_match.start() if right_match else len(text)
    while left < right and text[left].isspace():
        left += 1
    while right > left and text[right - 1].isspace():
        right -= 1
    return left, right


def find_injections(text: str) -> list[Exclusion]:
    """Sentences (or lines) that address a model or claim a score; sorted and non-overlapping."""
    spans: list[tuple[int, int]] = []
    quoted = _quoted_ranges(text)
    for pattern in _INJECTION_PATTERNS:
        for match in pattern.finditer(text):
            if any(start <= match.start() < end for start, end in quoted):
                continue
            spans.append(_enclosing(text, match.start(), match.end()))
    return [
        Exclusion(s, e, "prompt_injection_attempt", text[s:e].strip()[:160])
        for s, e in _merge(spans)
    ]


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


_LIST_SEPARATORS = re.compile(r"\s*(?:[,;|•·/]|\s-\s|\t)\s*")
_VERBISH = re.compile(r"\b\w+(?:ed|ing)\b|\b(?:built|led|ran|made|wrote|grew|won|cut)\b", re.I)


def _items(chunk: Chunk) -> int:
    """How many list items a chunk holds ("Python, Go, SQL" holds three)."""
    parts = [p for p in _LIST_SEPARATORS.split(chunk.text) if p.strip()]
    return max(1, len(parts))


def _is_list_like(chunk: Chunk) -> bool:
    tokens = tokenize(chunk.text)
    if not tokens:
        return False
    items = _items(chunk)
    if items >= 4 and len(tokens) / items <= 3.5:
        return True
    return chunk.kind is ChunkKind.BULLET and len(tokens) <= 4 and not _VERBISH.search(chunk.text)


def find_stuffing(chunks: Sequence[Chunk], text: str) -> list[Exclusion]:
    """Keyword lists far longer than any real skills section, and words repeated to pad.

    A run of list-like chunks in one section is one list; a list of at least
    ``STUFFED_LIST_MIN_ITEMS`` items is stuffing, whole. Legitimate skills sections are a
    handful to a couple of dozen entries, so the threshold sits well above them.
    """
    out: list[Exclusion] = []
    run: list[Chunk] = []

    def close() -> None:
        if run and _is_stuffed(run, text):
            start, end = run[0].start, run[-1].end
            out.append(Exclusion(start, end, "keyword_stuffing", text[start:end][:160]))
        run.clear()

    for chunk in chunks:
        if chunk.kind is ChunkKind.HEADING:
            close()
            continue
        if _is_list_like(chunk) and (not run or run[-1].section == chunk.section):
            run.append(chunk)
            continue
        close()
        if _repetitive(chunk):
            out.append(Exclusion(chunk.start, chunk.end, "keyword_stuffing", chunk.text[:160]))
        elif _is_list_like(chunk):
            run.append(chunk)
    close()
    return out


_CATEGORY_PREFIX = re.compile(r"^[^:,;\n]{1,40}:\s*")
_PARENTHETICAL = re.compile(r"\([^)]*\)")


def _entries(chunk: Chunk) -> list[str]:
    """The entries of a list chunk, without "Category:" labels and "(expert)" notes."""
    body = _CATEGORY_PREFIX.sub("", chunk.text.lstrip("-*•· \t"))
    body = _PARENTHETICAL.sub("", body)
    return [p.strip().lower() for p in _LIST_SEPARATORS.split(body) if len(p.strip()) > 1]


def _is_stuffed(run: Sequence[Chunk], text: str) -> bool:
    count = sum(_items(c) for c in run)
    if count < STUFFED_LIST_MIN_ITEMS:
        return False
    if count >= STUFFED_LIST_ALWAYS_ITEMS:
        return True
    # Between the two: a long list is real when most of it is used elsewhere in the document.
    outside = (text[: run[0].start] + " " + text[run[-1].end :]).lower()
    entries = [entry for chunk in run for entry in _entries(chunk)]
    supported = sum(
        1 for entry in entries if re.search(r"(?<!\w)" + re.escape(entry) + r"(?!\w)", outside)
    )
    return supported < SUPPORTED_SHARE_FOR_LONG_LISTS * max(1, len(entries))


def _repetitive(chunk: Chunk) -> bool:
    # Function words repeat in every sentence ("the job … the topic … the job"); only content
    # words repeated tell of padding.
    words = [t.text for t in tokenize(chunk.text) if len(t.text) > 2 and t.text not in STOPWORDS]
    if len(words) < 8:
        return False
    counts = Counter(words)
    word, top = counts.most_common(1)[0]
    if top >= 4 and top / len(words) >= 0.25 and not _compounds(words, word):
        return True
    return len(counts) / len(words) < 0.35


def _compounds(words: Sequence[str], word: str) -> bool:
    """Whether every occurrence of ``word`` heads a different phrase.

    "Web Developer/Web Lead/Manager with Web Development" names three roles that share a word;
    padding repeats the word with the same company ("Python Kubernetes LLM Python Kubernetes
    LLM") or alone ("Python Python Python").
    """
    followers = [
        words[i + 1] if i + 1 < len(words) else "" for i, w in enumerate(words) if w == word
    ]
    return word not in followers and len(set(followers)) == len(followers)


_LANGUAGE_MARKERS: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in (
        ("en", "the and of to in with for is on as at by an be this that from are"),
        ("es", "el la de que y en los las del con por para una es se al como"),
        ("fr", "le la les de des et en du un une pour dans avec est sur au par"),
        ("de", "der die das und in den von zu mit für ist im dem auf ein eine bei"),
        ("pt", "o a os as de do da dos das e em para com um uma por que no na"),
        ("it", "il lo la di che e in per con una del della nel sono gli al"),
        ("nl", "de het een en van in op te met voor is zijn aan bij als"),
        ("id", "dan yang di untuk dengan dari ini pada dalam adalah ke sebagai"),
    )
}


def guess_language(text: str) -> tuple[str, float]:
    """The language whose function words are most frequent, with its share of all tokens.

    Function words are the cheapest reliable signal: every language needs them and no CV
    avoids them. Returns ("unknown", 0) for texts too short to tell.
    """
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) >= 200 and sum(not ch.isascii() for ch in letters) / len(letters) > 0.3:
        return "other", 0.0  # a non-Latin script: none of the marker lists can apply
    words = [t.text for t in tokenize(text) if t.text.isalpha()]
    if len(words) < 30:
        return "unknown", 0.0
    counts = Counter(words)
    best, best_share = "unknown", 0.0
    for language, markers in _LANGUAGE_MARKERS.items():
        share = sum(counts[m] for m in markers) / len(words)
        if share > best_share:
            best, best_share = language, share
    if best_share < 0.03 and not text.isascii():
        return "other", best_share
    return best, best_share
