"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from cv_evaluator.api.context import ApiContext
from cv_evaluator.api.schemas import HealthResponse, ReadinessResponse
from cv_evaluator.observability.metrics import METRICS_CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness: the process answers")
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    summary="Readiness: database, queue, evaluator and disk",
    responses={503: {"model": ReadinessResponse, "description": "Not ready; see checks."}},
)
async def readyz(request: Request) -> JSONResponse:
    context: ApiContext = request.app.state.context
    checks = await context.readiness()
    ready = all(check.get("ok") for check in checks.values())
    body = ReadinessResponse(
        status="ready" if ready else "not_ready",
        maintenance=bool(checks.get("maintenance", {}).get("enabled")),
        checks=checks,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    context: ApiContext = request.app.state.context
    return Response(context.metrics.render(), media_type=METRICS_CONTENT_TYPE)
