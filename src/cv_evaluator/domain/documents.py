"""Uploaded documents and the text extracted from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class DocumentKind(StrEnum):
    CV = "cv"
    PROJECT = "project"


class MediaType(StrEnum):
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """What ingestion learned from one file: its real type, its text, and anything suspicious.

    ``warnings`` are machine-readable flags such as ``hidden_text`` (text a reader would not see:
    white, tiny or vanished) or ``partial_extraction``; ``hidden_text`` holds that text so the
    evaluator can refuse to count it.
    """

    media_type: MediaType
    text: str
    page_count: int | None
    warnings: tuple[str, ...] = ()
    hidden_text: str = ""


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    kind: DocumentKind
    filename: str
    media_type: MediaType
    size_bytes: int
    sha256: str
    page_count: int | None
    text: str
    storage_path: str
    created_at: datetime
    warnings: tuple[str, ...] = field(default=())
    hidden_text: str = ""
