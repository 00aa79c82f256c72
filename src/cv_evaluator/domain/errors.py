"""One root exception with stable, machine-readable codes.

Codes are part of the public contract (HTTP bodies, job records, CLI messages): never rename one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    UNPROCESSABLE_DOCUMENT = "UNPROCESSABLE_DOCUMENT"
    NO_EXTRACTABLE_TEXT = "NO_EXTRACTABLE_TEXT"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"
    MAINTENANCE = "MAINTENANCE"
    INTERNAL = "INTERNAL"
    INVALID_RUBRIC = "INVALID_RUBRIC"
    EVALUATION_FAILED = "EVALUATION_FAILED"
    EVALUATION_TIMEOUT = "EVALUATION_TIMEOUT"
    DOCUMENT_MISSING = "DOCUMENT_MISSING"


class CvEvaluatorError(Exception):
    """Root of every error the project raises on purpose.

    ``transient`` tells workers whether trying again later can succeed.
    """

    code: ErrorCode = ErrorCode.INTERNAL
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r})"


class InvalidArgument(CvEvaluatorError):
    code = ErrorCode.INVALID_ARGUMENT


class Unauthenticated(CvEvaluatorError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(CvEvaluatorError):
    code = ErrorCode.FORBIDDEN


class NotFound(CvEvaluatorError):
    code = ErrorCode.NOT_FOUND


class Conflict(CvEvaluatorError):
    code = ErrorCode.CONFLICT


class PayloadTooLarge(CvEvaluatorError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(CvEvaluatorError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class UnprocessableDocument(CvEvaluatorError):
    """The file has a supported type but cannot be read (corrupt, encrypted, a zip bomb)."""

    code = ErrorCode.UNPROCESSABLE_DOCUMENT


class NoExtractableText(UnprocessableDocument):
    """The file is readable but holds no text (empty, or scanned images only)."""

    code = ErrorCode.NO_EXTRACTABLE_TEXT


class InvalidRubric(InvalidArgument):
    code = ErrorCode.INVALID_RUBRIC


class Unavailable(CvEvaluatorError):
    """A dependency (database, queue, model provider) cannot be reached right now."""

    code = ErrorCode.UNAVAILABLE
    transient = True


class UnderMaintenance(CvEvaluatorError):
    code = ErrorCode.MAINTENANCE
    transient = True


class EvaluationFailed(CvEvaluatorError):
    """The evaluator could not produce a trustworthy score; the job fails with this reason."""

    code = ErrorCode.EVALUATION_FAILED


class TransientEvaluationError(CvEvaluatorError):
    """The evaluator failed in a way that may succeed on a later attempt."""

    code = ErrorCode.UNAVAILABLE
    transient = True
