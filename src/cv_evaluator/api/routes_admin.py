"""Administration routes, all behind `Authorization: Bearer <ADMIN_TOKEN>`."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from cv_evaluator.api.context import ApiContext
from cv_evaluator.api.errors import error_responses
from cv_evaluator.domain.errors import ErrorCode, Forbidden, Unauthenticated, Unavailable

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
