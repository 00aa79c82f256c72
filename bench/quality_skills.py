"""Skill recognition against human-annotated spans (``tech_validation_annotations.csv``).

The file (from jensjorisdecorte/Skill-Extraction-benchmark) marks skill spans in sentences of tech
job ads, each with an ESCO label or "LABEL NOT PRESENT" (a skill ESCO lacks) or "UNDERSPECIFIED".
Figures, over distinct (sentence, span) pairs:

* ``recall``: annotated spans overlapped by at least one recognised skill mention;
* ``recall_esco_labelled``: the same, over spans whose skill has an ESCO label;
* ``precision``: recognised mentions that overlap an annotated span. The annotations are not
  exhaustive (annotators marked some skills per sentence, not all), so this is a lower bound.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from cv_evaluator.evaluation.lexicon import lexicon
from cv_evaluator.evaluation.text import normalize

__all__ = ["measure_skills"]

_NOT_LABELLED = {"LABEL NOT PRESENT", "UNDERSPECIFIED"}


def _span(sentence: str, span: str) -> tuple[int, int] | None:
    text = span.strip().rstrip(" .")
    if not text:
        return None
    start = sentence.lower().find(text.lower())
    return None if start < 0 else (start, start + len(text))


def measure_skills(path: Path) -> dict[str, Any]:
    gold: dict[str, dict[tuple[int, int], str]] = defaultdict(dict)
    unplaced = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            sentence = row["sentence"]
            where = _span(sentence, row["span"])
            if where is None:
                unplaced += 1
                continue
            gold[sentence][where] = row["label"]

    lex = lexicon()
    spans = labelled = hit = hit_labelled = 0
    predicted = correct = 0
    examples_missed: list[str] = []
    examples_extra: list[str] = []
    for sentence in sorted(gold):
        found = lex.find(normalize(sentence))
        predicted += len(found)
        for mention in found:
            if any(
                mention.start < g_end and g_start < mention.end for g_start, g_end in gold[sentence]
            ):
                correct += 1
            elif len(examples_extra) < 15:
                name = lex.info(mention.skill_id).name
                examples_extra.append(f"{sentence[mention.start : mention.end]} ({name})")
        mentions = [(m.start, m.end) for m in found]
        for (g_start, g_end), label in gold[sentence].items():
            spans += 1
            overlapped = any(start < g_end and g_start < end for start, end in mentions)
            hit += overlapped
            if label not in _NOT_LABELLED:
                labelled += 1
                hit_labelled += overlapped
            if not overlapped and len(examples_missed) < 15:
                examples_missed.append(sentence[g_start:g_end])

    def ratio(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "sentences": len(gold),
        "annotated_spans": spans,
        "esco_labelled_spans": labelled,
        "recall": ratio(hit, spans),
        "recall_esco_labelled": ratio(hit_labelled, labelled),
        "precision": ratio(correct, predicted),
        "predicted_mentions": predicted,
        "unplaced_annotations": unplaced,
        "lexicon_version": lex.version,
        "lexicon_skills": len(lex),
        "missed_examples": examples_missed,
        "unannotated_examples": examples_extra,
    }
