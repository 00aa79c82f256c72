from __future__ import annotations

from cv_evaluator.api.result_cache import CompletedResultCache, RenderedResult


def entry(n: int) -> RenderedResult:
    return RenderedResult(body=str(n).encode(), etag=f'"{n}"')


def test_least_recently_used_entry_is_evicted() -> None:
    cache = CompletedResultCache(capacity=2)
    cache.put("a", entry(1))
    cache.put("b", entry(2))
    assert cache.get("a") == entry(1)  # "a" is now the most recent
    cache.put("c", entry(3))
    assert cache.get("b") is None
    assert cache.get("a") == entry(1)
    assert cache.get("c") == entry(3)
    assert len(cache) == 2


def test_zero_capacity_disables_the_cache() -> None:
    cache = CompletedResultCache(capacity=0)
    cache.put("a", entry(1))
    assert cache.get("a") is None
