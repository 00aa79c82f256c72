"""Mapping between table rows and domain entities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cv_evaluator.domain.documents import DocumentKind, MediaType, Upload
from cv_evaluator.domain.jobs import EvaluationInputs, Job, JobStatus


def upload_to_row(upload: Upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "kind": upload.kind.value,
        "filename": upload.filename,
        "media_type": upload.media_type.value,
        "size_bytes": upload.size_bytes,
        "sha256": upload.sha256,
        "page_count": upload.page_count,
        "text": upload.text,
        "hidden_text": upload.hidden_text,
        "warnings": list(upload.warnings),
        "storage_key": upload.storage_path,
        "created_at": upload.created_at,
    }


def row_to_upload(row: Mapping[Any, Any]) -> Upload:
    return Upload(
        id=row["id"],
        kind=DocumentKind(row["kind"]),
        filename=row["filename"],
        media_type=MediaType(row["media_type"]),
        size_bytes=row["size_bytes"],
        sha256=row["sha256"],
        page_count=row["page_count"],
        text=row["text"],
        storage_path=row["storage_key"],
        created_at=row["created_at"],
        warnings=tuple(row["warnings"] or ()),
        hidden_text=row["hidden_text"] or "",
    )


def job_to_row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status.value,
        "cv_id": job.inputs.cv_id,
        "project_id": job.inputs.project_id,
        "job_description": job.inputs.job_description,
        "study_case_brief": job.inputs.study_case_brief,
        "scoring_rubric": job.inputs.scoring_rubric,
        "idempotency_key": job.idempotency_key,
        "request_hash": job.request_hash,
        "request_id": job.request_id,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "available_at": job.available_at,
        "lease_owner": job.lease_owner,
        "lease_expires_at": job.lease_expires_at,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "attempt_log": list(job.attempt_log),
        "callback_url": job.inputs.callback_url,
        "trace_context": dict(job.trace_context) if job.trace_context else None,
    }


def row_to_job(row: Mapping[Any, Any]) -> Job:
    return Job(
        id=row["id"],
        status=JobStatus(row["status"]),
        inputs=EvaluationInputs(
            cv_id=row["cv_id"],
            project_id=row["project_id"],
            job_description=row["job_description"],
            study_case_brief=row["study_case_brief"],
            scoring_rubric=row["scoring_rubric"],
            callback_url=row["callback_url"],
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        available_at=row["available_at"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        request_id=row["request_id"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        attempt_log=tuple(row["attempt_log"] or ()),
        trace_context=row["trace_context"] or None,
    )
