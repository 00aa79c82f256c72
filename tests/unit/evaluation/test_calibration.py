"""The calibration gate: judgment on a fixed 40-row slice of rjdb must not degrade.

Floors sit a little under the figures measured when the gate was last set (2026-11-29, evaluator
1.2.0 with one-decimal scores: pairwise 1.0, length-controlled 1.0, cross 1.0, gap recall 0.8916
on this slice; before, with whole-level scores: 0.9625, 0.9625, 1.0, 0.8916), so one row or a
couple of skills may move without failing, while a change that degrades judgment cannot land
unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.quality_rjdb import evaluate_rows, load_rows, named, pad

DATA = Path(__file__).resolve().parents[2] / "data" / "rjdb_calibration.jsonl"

FLOORS = {
    "pairwise_accuracy": 0.97,
    "length_controlled_accuracy": 0.97,
    "cross_accuracy": 0.98,
    "gap_recall": 0.87,
}


@pytest.fixture(scope="module")
def figures() -> dict[str, object]:
    rows = load_rows(DATA)
    assert len(rows) == 40
    return evaluate_rows(rows)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_quality_stays_above_its_floor(figures: dict[str, object], metric: str) -> None:
    value = figures[metric]
    assert isinstance(value, float)
    assert value >= FLOORS[metric], f"{metric} fell to {value} (floor {FLOORS[metric]})"


def test_the_measurement_is_deterministic(figures: dict[str, object]) -> None:
    again = evaluate_rows(load_rows(DATA))
    for key in FLOORS:
        assert again[key] == figures[key]


def test_padding_is_neutral_and_reaches_the_target_length() -> None:
    padded = pad("## Skills\n- Baking\n", 400)
    assert len(padded) >= 400
    assert padded.startswith("## Skills\n- Baking")
    assert not any(ch.isdigit() for ch in padded)


def test_a_removed_skill_is_named_by_overlapping_key_terms() -> None:
    missing = ["Ability to perform pre and post trip vehicle inspections"]
    assert named("Ability to perform pre and post trip vehicle inspections", missing)
    assert named("Organizational Skills", ["Exceptional organizational abilities"])
    assert not named("Empathy and Compassion", ["Excellent management skills"])
