"""Exponential backoff with deterministic jitter (from the job id, so tests can predict it)."""

from __future__ import annotations

import hashlib


def backoff_seconds(job_id: str, attempt: int, *, base: float, cap: float) -> float:
    """Delay before attempt ``attempt + 1``: base·2^(attempt-1), jittered ×[0.75, 1.25), capped."""
    digest = hashlib.sha256(f"{job_id}:{attempt}".encode()).digest()
    jitter = 0.75 + (int.from_bytes(digest[:4], "big") / 2**32) * 0.5
    return float(min(cap, base * 2 ** max(0, attempt - 1) * jitter))
