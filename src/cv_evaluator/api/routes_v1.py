"""The public evaluation API: upload, evaluate, result."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from cv_evaluator.api.context import ApiContext
from cv_evaluator.api.errors import error_responses
from cv_evaluator.api.result_cache import RenderedResult
from cv_evaluator.api.schemas import EvaluateBody, EvaluateResponse, ResultResponse, UploadResponse
from cv_evaluator.domain.errors import (
    ErrorCode,
    InvalidArgument,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from cv_evaluator.domain.jobs import EvaluationInputs, JobStatus
from cv_evaluator.observability import tracing
from cv_evaluator.observability.logging import request_id_var
from cv_evaluator.service.maintenance import BYPASS_HEADER
from cv_evaluator.service.results import render_job
from cv_evaluator.service.uploads import IncomingFile

router = APIRouter(prefix="/v1", tags=["evaluation"])

_UPLOAD_SCHEMA = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["cv", "project"],
                "properties": {
                    "cv": {"type": "string", "format": "binary", "description": "The CV."},
                    "project": {
                        "type": "string",
                        "format": "binary",
                        "description": "The project report.",
                    },
                },
            }
        }
    },
}
_EVALUATE_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": EvaluateBody.model_json_schema()}},
}


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_file(form_value: Any, field: str, limit: int) -> IncomingFile:
    if not isinstance(form_value, UploadFile):
        raise InvalidArgument(f"multipart field {field!r} must be a file", details={"field": field})
    data = await form_value.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"{field} is larger than the {limit} byte limit",
            details={"field": field, "limit_bytes": limit},
        )
    return IncomingFile(field=field, filename=form_value.filename or "", data=data)


@router.post(
    "/upload",
    response_model=UploadResponse,
    summary="Upload a CV and a project report",
    openapi_extra={"requestBody": _UPLOAD_SCHEMA},
    responses=error_responses(
        ErrorCode.INVALID_ARGUMENT,
        ErrorCode.PAYLOAD_TOO_LARGE,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ErrorCode.UNPROCESSABLE_DOCUMENT,
        ErrorCode.NO_EXTRACTABLE_TEXT,
        ErrorCode.UNAVAILABLE,
        ErrorCode.MAINTENANCE,
    ),
)
async def upload(request: Request) -> UploadResponse:
    context = _context(request)
    await _admit_new_work(context, request)
    if _media_type(request) != "multipart/form-data":
        raise UnsupportedMediaType(
            "send the files as multipart/form-data with fields 'cv' and 'project'",
            details={"content_type": _media_type(request)},
        )
    async with request.form(max_files=2, max_fields=2) as form:
        missing = [name for name in ("cv", "project") if name not in form]
        if missing:
            raise InvalidArgument(
                "missing multipart field(s): " + ", ".join(missing), details={"missing": missing}
            )
        cv = await _read_file(form["cv"], "cv", context.max_file_bytes)
        project = await _read_file(form["project"], "project", context.max_file_bytes)
    cv_upload, project_upload = await context.uploads.upload(cv, project)
    return UploadResponse(cv_id=cv_upload.id, project_id=project_upload.id)


@router.post(
    "/evaluate",
    response_model=EvaluateResponse,
    summary="Queue an evaluation",
    openapi_extra={
        "requestBody": _EVALUATE_SCHEMA,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Same key and body: the same job. Same key, other body: 409.",
            }
        ],
    },
    responses=error_responses(
        ErrorCode.INVALID_ARGUMENT,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.PAYLOAD_TOO_LARGE,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ErrorCode.UNAVAILABLE,
        ErrorCode.MAINTENANCE,
    ),
)
async def evaluate(request: Request) -> EvaluateResponse:
    context = _context(request)
    await _admit_new_work(context, request)
    if _media_type(request) != "application/json":
        raise UnsupportedMediaType(
            "send the request as application/json", details={"content_type": _media_type(request)}
        )
    raw = await request.body()
    try:
        body = EvaluateBody.model_validate_json(raw)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
            for err in exc.errors()
        ]
        raise InvalidArgument(
            "the request body is invalid", details={"problems": problems}
        ) from None
    # The job row (and, on Kafka, the message) carries the publish span's context, so the
    # worker's span continues this trace.
    with tracing.publish_span(context.queue) as publish:
        submission = await context.evaluations.submit(
            EvaluationInputs(
                cv_id=body.cv_id,
                project_id=body.project_id,
                job_description=body.job_description,
                study_case_brief=body.study_case_brief,
                scoring_rubric=body.scoring_rubric,
                callback_url=body.callback_url,
            ),
            idempotency_key=request.headers.get("idempotency-key"),
            request_id=request_id_var.get(),
            trace_context=tracing.inject(),
        )
        publish.set_attribute("messaging.message.id", submission.job.id)
        publish.set_attribute("cv_evaluator.job.created", submission.created)
    if submission.created:
        context.metrics.jobs_enqueued.inc()
    return EvaluateResponse(id=submission.job.id, status=submission.job.status.value)


@router.get(
    "/result/{job_id}",
    response_model=ResultResponse,
    summary="Read the status and result of an evaluation",
    responses={
        304: {"description": "Not modified: the If-None-Match ETag is current."},
        **error_responses(ErrorCode.NOT_FOUND, ErrorCode.UNAVAILABLE),
    },
)
async def result(job_id: str, request: Request) -> Response:
    context = _context(request)
    rendered = context.result_cache.get(job_id)
    if rendered is None:
        view = await context.results.get(job_id)
        body = render_job(view)
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        rendered = RenderedResult(payload, '"' + hashlib.sha256(payload).hexdigest()[:32] + '"')
        if view.job.status is JobStatus.COMPLETED:
            context.result_cache.put(job_id, rendered)
    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
    if_none_match = request.headers.get("if-none-match", "")
    offered = {tag.strip() for tag in if_none_match.split(",")}
    if rendered.etag in offered or "*" in offered:
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


async def _admit_new_work(context: ApiContext, request: Request) -> None:
    """Refuse new work during maintenance, before reading a byte of the body."""
    if context.gate is not None:
        await context.gate.admit_new_work(request.headers.get(BYPASS_HEADER))
