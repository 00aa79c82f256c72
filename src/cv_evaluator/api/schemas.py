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
    maintenance: bool = Field(
        default=False,
        description="Maintenance mode is on: new work is refused, the rest keeps working.",
    )
    checks: dict[str, dict[str, Any]]


class MaintenanceStartBody(BaseModel):
    reason: str = Field(description="Why: shown to refused clients and kept in the audit trail.")
    duration: str | float | None = Field(
        default=None,
        description="How long, in seconds or like `30m`, `2h`; the mode then ends by itself.",
    )
    until: datetime | None = Field(
        default=None, description="When it ends by itself (ISO 8601 with a time zone)."
    )
    retry_after: int | None = Field(
        default=None, description="Seconds refused clients are told to wait (default 300)."
    )
    bypass: bool = Field(
        default=False,
        description=(
            "Also issue a bypass token (returned once, stored hashed) that lets requests "
            "carrying `X-Maintenance-Bypass: <token>` through, e.g. an operator's smoke test."
        ),
    )


class MaintenanceStopBody(BaseModel):
    reason: str = Field(default="", description="Optional note for the audit trail.")
