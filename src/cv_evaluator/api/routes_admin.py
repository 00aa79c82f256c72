"""Administration routes, all behind `Authorization: Bearer <ADMIN_TOKEN>`."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from cv_evaluator.api.context import ApiContext
from cv_evaluator.api.errors import error_responses
from cv_evaluator.api.schemas import MaintenanceStartBody, MaintenanceStopBody
from cv_evaluator.domain.errors import ErrorCode, Forbidden, Unauthenticated, Unavailable
from cv_evaluator.service.maintenance import MaintenanceService, parse_duration

_BEARER = "bearer "


def require_admin(request: Request) -> None:
    """Admin routes are closed until an operator sets ADMIN_TOKEN; then the token opens them."""
    context: ApiContext = request.app.state.context
    if not context.admin_token:
        raise Forbidden(
            "admin routes are disabled: set ADMIN_TOKEN to a long random secret and send it as "
            "`Authorization: Bearer <token>`"
        )
    header = request.headers.get("authorization", "")
    if not header.lower().startswith(_BEARER):
        raise Unauthenticated("send the admin token as `Authorization: Bearer <token>`")
    offered = header[len(_BEARER) :].strip().encode()
    # Constant time, so the comparison does not leak how much of a guess was right.
    if not hmac.compare_digest(offered, context.admin_token.encode()):
        raise Unauthenticated("the admin token is not valid")


router = APIRouter(
    prefix="/admin",
    tags=["administration"],
    dependencies=[Depends(require_admin)],
    responses=error_responses(ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN),
)


@router.get(
    "/api/health",
    summary="Latest maintenance check results (the same checks as `cv-evaluator maint check`)",
)
async def health(
    request: Request,
    refresh: bool = Query(False, description="Run the checks now instead of the latest results."),
) -> dict[str, Any]:
    context: ApiContext = request.app.state.context
    if context.health_report is None:
        raise Unavailable("maintenance checks are not available in this process")
    return await context.health_report(refresh)


def _maintenance(request: Request) -> MaintenanceService:
    context: ApiContext = request.app.state.context
    if context.maintenance is None:
        raise Unavailable("maintenance mode is not available in this process")
    return context.maintenance


_ADMIN_ACTOR = "admin-api"


@router.post(
    "/maintenance/start",
    summary="Turn maintenance mode on: new uploads and evaluations are refused with 503",
    responses=error_responses(ErrorCode.INVALID_ARGUMENT),
)
async def maintenance_start(request: Request, body: MaintenanceStartBody) -> dict[str, Any]:
    service = _maintenance(request)
    duration = None
    if body.duration is not None:
        duration = parse_duration(str(body.duration))
    _state, token = await service.start(
        reason=body.reason,
        actor=_actor(request),
        duration=duration,
        until=body.until,
        retry_after=body.retry_after,
        bypass=body.bypass,
    )
    status = await service.status()
    if token is not None:
        # Shown this once; only its hash is stored.
        status["bypass_token_value"] = token
    return status


@router.post("/maintenance/stop", summary="Turn maintenance mode off")
async def maintenance_stop(
    request: Request, body: MaintenanceStopBody | None = None
) -> dict[str, Any]:
    service = _maintenance(request)
    await service.stop(actor=_actor(request), reason=body.reason if body else "")
    return await service.status()


@router.get(
    "/maintenance/status",
    summary="Maintenance mode: on or off, why, until when, jobs still in flight, recent changes",
)
async def maintenance_status(request: Request) -> dict[str, Any]:
    return await _maintenance(request).status()


def _actor(request: Request) -> str:
    # The admin token identifies no person; the client address and request id do what they can.
    client = request.client.host if request.client else "unknown"
    return f"{_ADMIN_ACTOR}@{client}"
