"""Request and response shapes as published in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class UploadResponse(BaseModel):
    cv_id: str = Field(description="Id of the stored CV; pass it to /v1/evaluate.")
    project_id: str = Field(description="Id of the stored project report.")


class EvaluateBody(BaseModel):
    # Unknown fields are ignored so that clients of other implementations keep working.
    model_config = ConfigDict(extra="ignore")

    cv_id: str = Field(min_length=1, max_length=64)
    project_id: str = Field(min_length=1, max_length=64)
    job_description: str | None = Field(
        default=None, description="Job description text; the shipped default when omitted."
    )
    study_case_brief: str | None = Field(
        default=None, description="Case-study brief text; the shipped default when omitted."
    )
    scoring_rubric: str | None = Field(
        default=None, description="Rubric as YAML or JSON text; the shipped default when omitted."
    )
    callback_url: str | None = Field(
        default=None,
        description=(
            "When the job ends, the result document is POSTed here, signed (X-Signature: "
            "sha256=HMAC(APP_WEBHOOK_SECRET, X-Signature-Timestamp + '.' + body))."
        ),
    )


class EvaluateResponse(BaseModel):
    id: str
    status: Literal["queued", "processing", "completed", "failed"]


class JobError(BaseModel):
    code: str
    message: str


class ResultResponse(BaseModel):
    id: str
    status: Literal["queued", "processing", "completed", "failed"]
    created_at: datetime
    updated_at: datetime
    attempts: int
    result: dict[str, Any] | None = Field(
        default=None,
        description=(
            "When completed: cv_match_rate, cv_feedback, project_score, project_feedback, "
            "overall_summary, breakdown, flags, receipt."
        ),
    )
    error: JobError | None = Field(default=None, description="When failed: why.")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadinessResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, dict[str, Any]]
