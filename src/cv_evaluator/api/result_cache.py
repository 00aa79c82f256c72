"""A small per-process cache of rendered results of completed jobs.

A completed job never changes (its result is written once, in the same transaction that completes
it), so its rendered body and ETag can be served without touching the database. Failed jobs are not
cached: an operator may re-queue them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RenderedResult:
    body: bytes
    etag: str


class CompletedResultCache:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, RenderedResult] = OrderedDict()

    def get(self, job_id: str) -> RenderedResult | None:
        entry = self._entries.get(job_id)
        if entry is not None:
            self._entries.move_to_end(job_id)
        return entry

    def put(self, job_id: str, entry: RenderedResult) -> None:
        if self._capacity <= 0:
            return
        self._entries[job_id] = entry
        self._entries.move_to_end(job_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
