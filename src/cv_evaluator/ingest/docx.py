"""DOCX extraction with nothing but zipfile and defusedxml, behind the zip-bomb guard."""

from __future__ import annotations

import io
import zipfile
import zlib

# Only the element type comes from the standard library; all parsing goes through defusedxml.
from xml.etree.ElementTree import Element

from cv_evaluator.domain.errors import UnprocessableDocument
from cv_evaluator.ingest.docx_xml import document_text, parse_part
from cv_evaluator.ingest.extraction import RawExtraction
from cv_evaluator.ingest.limits import ReaderLimits
from cv_evaluator.ingest.zip_guard import GuardedArchive

DOCUMENT_PART = "word/document.xml"
APP_PROPERTIES_PART = "docProps/app.xml"
_PAGES = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}Pages"
# What zipfile and zlib raise on damaged archives (bad CRC, truncated deflate stream, bad header).
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)


def extract_docx(data: bytes, limits: ReaderLimits) -> RawExtraction:
    document, app_properties = _read_parts(data, limits)
    content = document_text(parse_part(document, DOCUMENT_PART))
    page_count = None
    if app_properties is not None:
        page_count = _declared_pages(parse_part(app_properties, APP_PROPERTIES_PART))
    return RawExtraction(text=content.text, hidden_text=content.hidden_text, page_count=page_count)


def _read_parts(data: bytes, limits: ReaderLimits) -> tuple[bytes, bytes | None]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            guarded = GuardedArchive(archive, limits)
            document = guarded.read(DOCUMENT_PART)
            if document is None:
                raise UnprocessableDocument(
                    f"The DOCX file has no {DOCUMENT_PART}.",
                    details={"reason": "missing_document_part", "part": DOCUMENT_PART},
                )
            return document, guarded.read(APP_PROPERTIES_PART)
    except _ARCHIVE_ERRORS as exc:
        raise UnprocessableDocument(
            "The DOCX file is corrupt: its zip structure cannot be read.",
            details={"reason": "corrupt_archive"},
        ) from exc


def _declared_pages(app_properties: Element) -> int | None:
    pages = app_properties.find(_PAGES)
    if pages is None or pages.text is None:
        return None
    try:
        count = int(pages.text.strip())
    except ValueError:
        return None
    return count if count > 0 else None
