"""What the HTTP layer needs, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cv_evaluator.api.result_cache import CompletedResultCache
from cv_evaluator.observability.metrics import ServiceMetrics
from cv_evaluator.observability.tracing import DB_QUEUE, QueueInfo
from cv_evaluator.service.evaluations import EvaluationService
from cv_evaluator.service.maintenance import MaintenanceGate, MaintenanceService
from cv_evaluator.service.results import ResultService
from cv_evaluator.service.uploads import UploadService

ReadinessProbe = Callable[[], Awaitable[dict[str, dict[str, Any]]]]
# Latest maintenance check results; the flag asks for a fresh run instead of the cached one.
HealthReport = Callable[[bool], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ApiContext:
    uploads: UploadService
    evaluations: EvaluationService
    results: ResultService
    metrics: ServiceMetrics
    readiness: ReadinessProbe
    max_file_bytes: int
    max_json_bytes: int
    result_cache: CompletedResultCache
    maintenance: MaintenanceService | None = None
    gate: MaintenanceGate | None = None
    admin_token: str | None = None
    health_report: HealthReport | None = None
    # Names the queue on the publish span of POST /v1/evaluate (tracing on).
    queue: QueueInfo = DB_QUEUE
