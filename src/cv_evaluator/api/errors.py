"""Every error leaves as ``{"error": {"code", "message", "details"}}``; no stack trace ever does."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cv_evaluator.domain.errors import CvEvaluatorError, ErrorCode

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_ARGUMENT: 400,
    ErrorCode.INVALID_RUBRIC: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.UNPROCESSABLE_DOCUMENT: 422,
    ErrorCode.NO_EXTRACTABLE_TEXT: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.MAINTENANCE: 503,
}


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. NOT_FOUND.")
    message: str = Field(description="What went wrong, for a person.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context.")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def error_response(
    code: ErrorCode, message: str, details: dict[str, Any] | None = None, status: int | None = None
) -> JSONResponse:
    body = {"error": {"code": code.value, "message": message, "details": details or {}}}
    headers = None
    if code is ErrorCode.UNAVAILABLE:
        headers = {"Retry-After": "5"}
    elif code is ErrorCode.MAINTENANCE:
        headers = {"Retry-After": str((details or {}).get("retry_after_seconds", 300))}
    elif code is ErrorCode.UNAUTHENTICATED:
        headers = {"WWW-Authenticate": 'Bearer realm="admin"'}
    return JSONResponse(body, status_code=status or STATUS_BY_CODE.get(code, 500), headers=headers)


def error_responses(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the listed codes (plus 500), all with the error envelope."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, ErrorCode.INTERNAL):
        by_status.setdefault(STATUS_BY_CODE.get(code, 500), []).append(code.value)
    return {
        status: {"model": ErrorEnvelope, "description": "Error: " + ", ".join(names)}
        for status, names in sorted(by_status.items())
    }


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CvEvaluatorError)
    if STATUS_BY_CODE.get(exc.code, 500) >= 500:
        log.warning("request failed: %s", exc.message, extra={"code": exc.code.value})
    return error_response(exc.code, exc.message, exc.details)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
        for err in exc.errors()
    ]
    return error_response(
        ErrorCode.INVALID_ARGUMENT, "the request is invalid", {"problems": problems}
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(ErrorCode.NOT_FOUND, "no such route")
    if exc.status_code == 405:
        return error_response(ErrorCode.METHOD_NOT_ALLOWED, "method not allowed on this route")
    code = ErrorCode.INVALID_ARGUMENT if exc.status_code < 500 else ErrorCode.INTERNAL
    return error_response(code, str(exc.detail), status=exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CvEvaluatorError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
