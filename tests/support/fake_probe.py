"""A scripted stand-in for ServiceProbe: the same methods, answers chosen by the test."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TypeVar

from cv_evaluator.ops.probe import ProbeResult, RequestCounts

HEALTHY = ProbeResult(True, "answered 200", {"status_code": 200})
DOWN = ProbeResult(False, "connection refused", {})
SMOKE_OK = ProbeResult(True, "smoke test passed", {"job_id": "job_smoke", "seconds": 0.1})

_T = TypeVar("_T")


class FakeProbe:
    """Each method answers from its script in order; the last answer repeats once run out.

    ``smoke`` entries may be exceptions, raised when reached (an interrupted smoke test).
    """

    def __init__(
        self,
        *,
        health: Iterable[ProbeResult] = (HEALTHY,),
        readiness: Iterable[ProbeResult] = (HEALTHY,),
        smoke: Iterable[ProbeResult | BaseException] = (SMOKE_OK,),
        counts: Iterable[RequestCounts | None] = (RequestCounts(0, 0),),
    ) -> None:
        self.base_url = "http://fake"
        self._health = deque(health)
        self._readiness = deque(readiness)
        self._smoke = deque(smoke)
        self._counts = deque(counts)
        self.smoke_calls: list[dict[str, object]] = []

    @staticmethod
    def _next(script: deque[_T]) -> _T:
        return script.popleft() if len(script) > 1 else script[0]

    async def health(self) -> ProbeResult:
        return self._next(self._health)

    async def readiness(self) -> ProbeResult:
        return self._next(self._readiness)

    async def request_counts(self) -> RequestCounts | None:
        return self._next(self._counts)

    async def smoke_test(
        self, *, bypass_token: str | None, idempotency_key: str, timeout_seconds: float
    ) -> ProbeResult:
        self.smoke_calls.append({"bypass_token": bypass_token, "idempotency_key": idempotency_key})
        answer = self._next(self._smoke)
        if isinstance(answer, BaseException):
            raise answer
        return answer
