"""Evaluation latency for a two-page CV plus a four-page project report, on one core.

Runs ``LocalEvaluator.evaluate_sync`` (the work ``evaluate`` moves off the event loop) with the
default job description, brief and rubric, after one warm-up run that loads the lexicon. Caches
keyed by candidate text are cleared before every run, so each run costs what a new CV costs; the
parsed default reference documents stay cached, as they do in a serving process.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from bench.quality_samples import four_page_report, two_page_cv
from cv_evaluator.domain.evaluation import CandidateDocument, EvaluationRequest
from cv_evaluator.evaluation import (
    LocalEvaluator,
    default_case_study_brief,
    default_job_description,
    default_rubric,
)
from cv_evaluator.evaluation.analysis import candidate_terms, profile
from cv_evaluator.evaluation.negation import is_negated
from cv_evaluator.evaluation.text import tokenize

__all__ = ["measure_latency"]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure_latency(runs: int = 200) -> dict[str, Any]:
    cv = two_page_cv()
    report = four_page_report()
    request = EvaluationRequest(
        cv=CandidateDocument(text=cv, media_type="text/markdown"),
        project=CandidateDocument(text=report, media_type="text/markdown"),
        job_description=default_job_description(),
        study_case_brief=default_case_study_brief(),
        rubric=default_rubric(),
    )
    evaluator = LocalEvaluator()
    started = time.perf_counter()
    evaluator.evaluate_sync(request)  # warm-up: lexicon load and caches
    cold_ms = (time.perf_counter() - started) * 1000
    durations: list[float] = []
    for _ in range(max(1, runs)):
        # Every real request brings new text: drop the per-text caches so no run profits
        # from the previous one (the lexicon and word stems stay warm, as in a serving process).
        profile.cache_clear()
        candidate_terms.cache_clear()
        tokenize.cache_clear()
        is_negated.cache_clear()
        started = time.perf_counter()
        evaluator.evaluate_sync(request)
        durations.append((time.perf_counter() - started) * 1000)
    return {
        "runs": len(durations),
        "cv_words": len(cv.split()),
        "report_words": len(report.split()),
        "first_run_ms": round(cold_ms, 1),
        "p50_ms": round(_percentile(durations, 0.50), 2),
        "p99_ms": round(_percentile(durations, 0.99), 2),
        "max_ms": round(max(durations), 2),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu",
    }
