"""Small builders for domain objects used across test tiers."""

from __future__ import annotations

from datetime import UTC, datetime

from cv_evaluator.domain.documents import DocumentKind, MediaType, Upload
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.domain.jobs import EvaluationInputs, Job, JobStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_upload(kind: DocumentKind = DocumentKind.CV, text: str = "Python engineer") -> Upload:
    upload_id = new_id(IdKind.CV if kind is DocumentKind.CV else IdKind.PROJECT)
    return Upload(
        id=upload_id,
        kind=kind,
        filename=f"{kind.value}.txt",
        media_type=MediaType.TEXT,
        size_bytes=len(text),
        sha256="0" * 64,
        page_count=None,
        text=text,
        storage_path=upload_id,
        created_at=T0,
    )


def make_job(
    cv: Upload,
    project: Upload,
    *,
    at: datetime = T0,
    key: str | None = None,
    max_attempts: int = 3,
) -> Job:
    return Job(
        id=new_id(IdKind.JOB),
        status=JobStatus.QUEUED,
        inputs=EvaluationInputs(cv_id=cv.id, project_id=project.id),
        created_at=at,
        updated_at=at,
        available_at=at,
        max_attempts=max_attempts,
        idempotency_key=key,
        request_hash="h" if key else None,
    )
