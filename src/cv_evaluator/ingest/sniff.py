"""Decide what a file really is from its bytes; the filename never overrides the content.

The only use of the filename is to call decodable text Markdown when its author said so.
"""

from __future__ import annotations

import io
import zipfile

from cv_evaluator.domain.documents import MediaType
from cv_evaluator.domain.errors import UnprocessableDocument, UnsupportedMediaType
from cv_evaluator.ingest.signatures import REASONS, Family, detect_refused
from cv_evaluator.ingest.text import decode_text, is_mostly_printable, looks_like_markdown

PDF_MAGIC = b"%PDF-"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_CONTENT_TYPES = "[content_types].xml"
_WORD_FOLDER = "word/"
# Local file headers repeat member names, so a DOCX whose central directory is cut off can still
# be recognised (and reported as corrupt rather than as an unknown archive).
_DOCX_MAIN_PART = b"word/document.xml"
_SVG_SNIFF_CHARS = 1024
_NOT_TEXT_REASON = "the content is neither PDF, DOCX, nor UTF-8/UTF-16 text"


def detect_media_type(data: bytes, filename: str) -> MediaType:
    """The supported type of ``data``, or raise ``UnsupportedMediaType`` saying what it is."""
    if data.startswith(PDF_MAGIC):
        return MediaType.PDF
    if data.startswith(_ZIP_MAGICS):
        return _classify_zip(data)
    refused = detect_refused(data)
    if refused is not None:
        raise _unsupported(refused.description, refused.reason)
    return _classify_text(data, filename)


def _classify_zip(data: bytes) -> MediaType:
    names = _zip_member_names(data)
    if names is None:
        if _DOCX_MAIN_PART in data:
            raise UnprocessableDocument(
                "The DOCX file is corrupt: its zip structure cannot be read.",
                details={"reason": "corrupt_archive", "detected": "docx"},
            )
        raise _unsupported("zip archive (unreadable)", REASONS[Family.ARCHIVE])
    if _CONTENT_TYPES in names and any(name.startswith(_WORD_FOLDER) for name in names):
        return MediaType.DOCX
    if _CONTENT_TYPES in names:
        raise _unsupported("Office Open XML file other than DOCX", REASONS[Family.DOCUMENT])
    raise _unsupported("zip archive", REASONS[Family.ARCHIVE])


def _zip_member_names(data: bytes) -> set[str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # Part names in Office Open XML are case-insensitive.
            return {name.lower() for name in archive.namelist()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None


def _classify_text(data: bytes, filename: str) -> MediaType:
    text = decode_text(data)
    if text is None:
        raise _unsupported("binary data", _NOT_TEXT_REASON)
    if "\x00" in text:
        raise _unsupported("binary data (contains NUL bytes)", _NOT_TEXT_REASON)
    if not is_mostly_printable(text):
        raise _unsupported("binary data (mostly unprintable characters)", _NOT_TEXT_REASON)
    if _looks_like_svg(text):
        raise _unsupported("SVG image", REASONS[Family.IMAGE])
    return MediaType.MARKDOWN if looks_like_markdown(text, filename) else MediaType.TEXT


def _looks_like_svg(text: str) -> bool:
    head = text[:_SVG_SNIFF_CHARS].lstrip().lower()
    return head.startswith("<svg") or (head.startswith("<?xml") and "<svg" in head)


def _unsupported(detected: str, reason: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"Unsupported file type: {detected}; {reason}.",
        details={"detected": detected, "reason": reason},
    )
