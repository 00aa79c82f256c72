"""The ``DocumentReader`` port's adapter: sniff, extract, clean up, and flag what looks wrong."""

from __future__ import annotations

from collections.abc import Callable

from cv_evaluator.domain.documents import ExtractedDocument, MediaType
from cv_evaluator.domain.errors import CvEvaluatorError, NoExtractableText, UnprocessableDocument
from cv_evaluator.ingest import text
from cv_evaluator.ingest.docx import extract_docx
from cv_evaluator.ingest.extraction import RawExtraction
from cv_evaluator.ingest.limits import ReaderLimits
from cv_evaluator.ingest.normalize import clean_text, truncate
from cv_evaluator.ingest.pdf import extract_pdf
from cv_evaluator.ingest.sniff import detect_media_type

HIDDEN_TEXT = "hidden_text"
TRUNCATED = "truncated"

_Extractor = Callable[[bytes, ReaderLimits], RawExtraction]
_EXTRACTORS: dict[MediaType, _Extractor] = {
    MediaType.PDF: extract_pdf,
    MediaType.DOCX: extract_docx,
    MediaType.TEXT: lambda data, _limits: text.extract_text(data),
    MediaType.MARKDOWN: lambda data, _limits: text.extract_text(data),
}


class DocumentReader:
    """Reads PDF, DOCX, plain text and Markdown; raises only ``CvEvaluatorError`` subclasses."""

    def __init__(
        self,
        *,
        max_pages: int = 200,
        max_uncompressed_bytes: int = 50 * 1024 * 1024,
        max_compression_ratio: int = 100,
        max_text_chars: int = 500_000,
        max_archive_members: int = 1000,
    ) -> None:
        self.limits = ReaderLimits(
            max_pages=max_pages,
            max_uncompressed_bytes=max_uncompressed_bytes,
            max_compression_ratio=max_compression_ratio,
            max_text_chars=max_text_chars,
            max_archive_members=max_archive_members,
        )

    def read(self, data: bytes, filename: str) -> ExtractedDocument:
        try:
            return self._read(data, filename)
        except CvEvaluatorError:
            raise
        except Exception as exc:
            # Uploads are hostile input; whatever slipped past the format-specific handling is
            # still a document we cannot read, never a crash of the caller.
            raise UnprocessableDocument(
                "The document could not be read.",
                details={"reason": "unreadable", "error": type(exc).__name__},
            ) from exc

    def _read(self, data: bytes, filename: str) -> ExtractedDocument:
        if not data:
            raise NoExtractableText("The file is empty.", details={"reason": "empty_file"})
        media_type = detect_media_type(data, filename)
        raw = _EXTRACTORS[media_type](data, self.limits)
        return self._finish(media_type, raw)

    def _finish(self, media_type: MediaType, raw: RawExtraction) -> ExtractedDocument:
        visible = clean_text(raw.text)
        hidden = clean_text(raw.hidden_text)
        if not visible:
            raise _no_text(media_type, has_hidden=bool(hidden))
        visible, visible_cut = truncate(visible, self.limits.max_text_chars)
        hidden, hidden_cut = truncate(hidden, self.limits.max_text_chars)
        warnings = list(raw.warnings)
        if hidden:
            warnings.append(HIDDEN_TEXT)
        if visible_cut or hidden_cut:
            warnings.append(TRUNCATED)
        return ExtractedDocument(
            media_type=media_type,
            text=visible,
            page_count=raw.page_count,
            warnings=tuple(dict.fromkeys(warnings)),
            hidden_text=hidden,
        )


def _no_text(media_type: MediaType, *, has_hidden: bool) -> NoExtractableText:
    details: dict[str, object] = {"media_type": media_type.value}
    if has_hidden:
        return NoExtractableText(
            "The document only contains hidden text.",
            details={**details, "reason": "only_hidden_text"},
        )
    if media_type is MediaType.PDF:
        return NoExtractableText(
            "The PDF has pages but no text layer; it looks scanned. Upload a PDF with "
            "selectable text (or run OCR on it first).",
            details={**details, "reason": "no_text_layer", "looks_scanned": True},
        )
    return NoExtractableText(
        "The document contains no text.", details={**details, "reason": "whitespace_only"}
    )
