"""The skills lexicon (O*NET 29.2 + ESCO v1.1.0 + curated aliases) and a fast phrase matcher.

Loaded once, lazily, from package data. Matching walks a token trie (one dict lookup per token),
leftmost-longest, so the cost grows with the text, not with the 16k skills. Two tries: stemmed
lower-case forms, and case-sensitive forms for names that are ordinary words in lower case
("Go", "React", "R").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from cv_evaluator.evaluation.text import Token, normalize, term, tokenize

__all__ = ["Lexicon", "SkillInfo", "SkillMatch", "find_skills", "lexicon", "skill_slug"]

_DATA_FILE = "data/skills_lexicon.json"
_END = ""  # trie key marking a complete form; no token is ever empty


@dataclass(frozen=True, slots=True)
class SkillInfo:
    id: str
    name: str
    category: str
    source: str  # "curated" | "onet" | "esco"
    hot: bool


@dataclass(frozen=True, slots=True)
class SkillMatch:
    skill_id: str
    start: int
    end: int


def skill_slug(name: str) -> str:
    slug = name.lower().replace("c++", "cpp").replace("c#", "csharp").replace(".net", "dotnet")
    return re.sub(r"[^a-z0-9]+", "-", slug).strip("-") or "x"


_SOURCES = {"c": "curated", "o": "onet", "e": "esco"}
# A one-letter language name is only a skill when it stands alone: not "R&D", "C-level", "C."
_LONE_LETTER_BLOCKERS = frozenset("&-'.+#/")
_CODE_WORDS = frozenset(
    term(word)
    for word in (
        "programming",
        "language",
        "languages",
        "developer",
        "development",
        "code",
        "coding",
        "embedded",
        "firmware",
        "compiler",
        "software",
        "engineer",
        "statistics",
        "statistical",
    )
)

Trie = dict[str, Any]


def _insert(trie: Trie, keys: list[str], index: int) -> None:
    node = trie
    for key in keys:
        node = node.setdefault(key, {})
    node.setdefault(_END, index)


class Lexicon:
    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = str(data["version"])
        categories: list[str] = list(data["categories"])
        self.skills: list[SkillInfo] = []
        self._by_id: dict[str, int] = {}
        self._folded: Trie = {}
        self._cased: Trie = {}
        # One-word names from O*NET and ESCO are matched as written (lower-cased, plural
        # allowed), not by stem: stemmed, "mechanics" would match "mechanisms".
        self._surface: dict[str, int] = {}
        self._broader: dict[str, tuple[str, ...]] = {
            str(k): tuple(str(v) for v in vs) for k, vs in data.get("broader", {}).items()
        }
        for row in data["skills"]:
            name, category, flags = str(row[0]), categories[int(row[1])], str(row[2])
            rest = list(row[3:])
            forms = [str(f) for f in rest.pop(0)] if rest and isinstance(rest[0], list) else []
            skill_id = str(rest[0]) if rest else skill_slug(name)
            index = len(self.skills)
            self.skills.append(
                SkillInfo(
                    skill_id, name, category, _SOURCES.get(flags[:1], "curated"), "h" in flags
                )
            )
            self._by_id[skill_id] = index
            if "=" + name not in forms:
                forms.append(name)
            for form in forms:
                self.add_form(form, index, exact_single=not flags.startswith("c"))

    def add_form(self, form: str, index: int, *, exact_single: bool = False) -> None:
        if form.startswith("="):
            surface = form[1:]
            keys = [surface[t.start : t.end] for t in tokenize(surface)]
            if keys:
                _insert(self._cased, keys, index)
            return
        tokens = tokenize(normalize(form))
        if exact_single and len(tokens) == 1:
            self._surface.setdefault(tokens[0].text, index)
            return
        keys = [term(t.text) for t in tokens]
        if keys:
            _insert(self._folded, keys, index)

    def __len__(self) -> int:
        return len(self.skills)

    def broader(self, skill_id: str) -> frozenset[str]:
        """Every broader skill a mention of ``skill_id`` also shows (transitively)."""
        out: set[str] = set()
        todo = list(self._broader.get(skill_id, ()))
        while todo:
            item = todo.pop()
            if item not in out:
                out.add(item)
                todo.extend(self._broader.get(item, ()))
        return frozenset(out)

    def get(self, skill_id: str) -> SkillInfo | None:
        index = self._by_id.get(skill_id)
        return None if index is None else self.skills[index]

    def info(self, skill_id: str) -> SkillInfo:
        return self.skills[self._by_id[skill_id]]

    def find(self, text: str) -> list[SkillMatch]:
        """Leftmost-longest, non-overlapping skill mentions in ``text`` (already normalised)."""
        tokens = tokenize(text)
        folded = [term(t.text) for t in tokens]
        cased = [text[t.start : t.end] for t in tokens]
        found: list[tuple[int, int, int]] = []  # (first token, token count, skill index)
        i = 0
        n = len(tokens)
        while i < n:
            best_len = 0
            best_index = -1
            for trie, keys in ((self._folded, folded), (self._cased, cased)):
                node = trie
                j = i
                while j < n:
                    child = node.get(keys[j])
                    if child is None:
                        break
                    node = child
                    j += 1
                    if _END in node and j - i > best_len:
                        best_len, best_index = j - i, node[_END]
            if not best_len:
                word = tokens[i].text
                index = self._surface.get(word)
                if index is None and len(word) > 3 and word.endswith("s"):
                    index = self._surface.get(word[:-1])
                if index is not None:
                    best_len, best_index = 1, index
            if best_len:
                found.append((i, best_len, best_index))
                i += best_len
            else:
                i += 1
        return [
            SkillMatch(self.skills[index].id, tokens[first].start, tokens[first + length - 1].end)
            for k, (first, length, index) in enumerate(found)
            if self._acceptable(text, tokens, folded, found, k)
        ]

    @staticmethod
    def _acceptable(
        text: str,
        tokens: tuple[Token, ...],
        folded: list[str],
        found: list[tuple[int, int, int]],
        k: int,
    ) -> bool:
        """One-letter names ("C", "R") only count as a language among code words or next to
        other skills ("Python, C, Go"): never in "R&D", "C-level", "grade C" or "plan B"."""
        first, length, _ = found[k]
        start, end = tokens[first].start, tokens[first + length - 1].end
        if end - start != 1:
            return True
        before = text[start - 1] if start > 0 else " "
        after = text[end] if end < len(text) else " "
        if before in _LONE_LETTER_BLOCKERS or after in _LONE_LETTER_BLOCKERS:
            return False
        window = folded[max(0, first - 3) : first] + folded[first + 1 : first + 4]
        if any(word in _CODE_WORDS for word in window):
            return True

        def word_skill(m: tuple[int, int, int]) -> bool:
            return tokens[m[0] + m[1] - 1].end - tokens[m[0]].start > 1

        previous = found[k - 1] if k > 0 else None
        following = found[k + 1] if k + 1 < len(found) else None
        near_before = (
            previous is not None
            and word_skill(previous)
            and first - (previous[0] + previous[1]) <= 1
        )
        near_after = (
            following is not None and word_skill(following) and following[0] - (first + 1) <= 1
        )
        return near_before or near_after


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    raw = resources.files("cv_evaluator.evaluation").joinpath(_DATA_FILE).read_text("utf-8")
    return Lexicon(json.loads(raw))


def find_skills(text: str) -> list[SkillMatch]:
    return lexicon().find(text)
