"""PDF extraction via pypdf: refuse the encrypted and oversized, set hidden text aside."""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.generic import ContentStream, NameObject

from cv_evaluator.domain.errors import CvEvaluatorError, UnprocessableDocument
from cv_evaluator.ingest.extraction import RawExtraction
from cv_evaluator.ingest.limits import ReaderLimits
from cv_evaluator.ingest.pdf_visibility import Operation, split_by_visibility

# Raw page text still holds layout whitespace that normalisation removes later, so extraction
# stops only once it has gathered clearly more than the final cap needs.
_RAW_TEXT_HEADROOM = 2
# catch_warnings and logger levels are process-wide state; readers running in worker threads must
# not restore each other's settings. pypdf is pure Python, so the GIL serialises it anyway.
_QUIET_LOCK = threading.Lock()
_PYPDF_LOGGER = logging.getLogger("pypdf")


@dataclass(slots=True)
class _Pages:
    visible: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    failed: int = 0
    truncated: bool = False
    collected: int = 0


def extract_pdf(data: bytes, limits: ReaderLimits) -> RawExtraction:
    with _quiet_parser():
        try:
            return _extract(data, limits)
        except CvEvaluatorError:
            raise
        except Exception as exc:
            # pypdf raises a wide variety of exceptions on hostile input (its own errors, but also
            # KeyError, TypeError, RecursionError...); all of them mean "cannot be parsed".
            raise UnprocessableDocument(
                "The PDF file is corrupt or cannot be parsed.",
                details={"reason": "corrupt_pdf", "error": type(exc).__name__},
            ) from exc


@contextmanager
def _quiet_parser() -> Iterator[None]:
    # A damaged upload makes pypdf warn once per recovery step: attacker-controlled volume in our
    # logs, saying nothing that the domain error or the partial_extraction flag does not.
    with _QUIET_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous_level = _PYPDF_LOGGER.level
        _PYPDF_LOGGER.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            _PYPDF_LOGGER.setLevel(previous_level)


def _extract(data: bytes, limits: ReaderLimits) -> RawExtraction:
    reader = PdfReader(io.BytesIO(data), strict=False)
    _unlock(reader)
    page_count = len(reader.pages)
    if page_count == 0:
        raise UnprocessableDocument("The PDF has no pages.", details={"reason": "no_pages"})
    if page_count > limits.max_pages:
        raise UnprocessableDocument(
            f"The PDF has {page_count} pages; at most {limits.max_pages} are accepted.",
            details={"reason": "too_many_pages", "pages": page_count, "limit": limits.max_pages},
        )
    pages = _read_pages(reader, limits.max_text_chars * _RAW_TEXT_HEADROOM)
    if pages.failed == page_count:
        raise UnprocessableDocument(
            "No page of the PDF could be read.", details={"reason": "unreadable_pages"}
        )
    return RawExtraction(
        text="\n\n".join(pages.visible),
        hidden_text="\n".join(pages.hidden),
        page_count=page_count,
        warnings=_warnings(pages),
    )


def _unlock(reader: PdfReader) -> None:
    """Open an encrypted PDF if it only has an owner password (an empty user password)."""
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception as exc:
        # Unsupported security handlers and missing crypto backends end up here too.
        raise _encrypted() from exc
    if not opened:
        raise _encrypted()


def _encrypted() -> UnprocessableDocument:
    return UnprocessableDocument("The PDF is password protected.", details={"reason": "encrypted"})


def _read_pages(reader: PdfReader, max_raw_chars: int) -> _Pages:
    pages = _Pages()
    for page in reader.pages:
        if pages.collected > max_raw_chars:
            pages.truncated = True
            break
        try:
            visible, hidden = _page_texts(page, reader)
        except Exception:
            # One damaged page should not cost the candidate the rest of the document.
            pages.failed += 1
            continue
        pages.visible.append(visible)
        pages.collected += len(visible)
        if hidden.strip():
            pages.hidden.append(hidden)
    return pages


def _page_texts(page: PageObject, reader: PdfReader) -> tuple[str, str]:
    contents = page.get_contents()
    if contents is None:
        return "", ""
    split = split_by_visibility(contents.operations)
    if split is None:
        return page.extract_text(), ""
    return _text_of(page, reader, split.visible), _text_of(page, reader, split.hidden)


def _text_of(page: PageObject, reader: PdfReader, operations: list[Operation]) -> str:
    # A detached copy of the page with filtered contents: the original page stays untouched and
    # pypdf still resolves the page's fonts and resources.
    stream = ContentStream(None, reader)
    stream.operations = operations
    detached = PageObject(pdf=reader)
    detached.update(page)
    detached[NameObject("/Contents")] = stream
    return detached.extract_text()


def _warnings(pages: _Pages) -> tuple[str, ...]:
    flags: list[str] = []
    if pages.failed:
        flags.append("partial_extraction")
    if pages.truncated:
        flags.append("truncated")
    return tuple(flags)
