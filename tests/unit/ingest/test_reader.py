"""The reader as the service sees it: one entry point, domain errors only, tidy output."""

from __future__ import annotations

import codecs
from collections.abc import Callable

import pytest

from cv_evaluator.domain import ports
from cv_evaluator.domain.documents import MediaType
from cv_evaluator.domain.errors import (
    ErrorCode,
    NoExtractableText,
    UnprocessableDocument,
    UnsupportedMediaType,
)
from cv_evaluator.ingest import DocumentReader
from cv_evaluator.ingest import reader as reader_module
from tests.support.documents import (
    SAMPLE_CV_TEXT,
    SAMPLE_PROJECT_TEXT,
    make_docx,
    make_elf,
    make_pdf,
    make_zip,
)


def test_satisfies_the_port() -> None:
    port: ports.DocumentReader = DocumentReader()
    assert port.read(b"hello", "a.txt").text == "hello"


def test_zero_byte_file_has_no_extractable_text(reader: DocumentReader) -> None:
    with pytest.raises(NoExtractableText) as caught:
        reader.read(b"", "cv.pdf")
    assert caught.value.code is ErrorCode.NO_EXTRACTABLE_TEXT
    assert caught.value.details == {"reason": "empty_file"}


@pytest.mark.parametrize("data", [b"   \n\t\n  ", b"\r\n\r\n", codecs.BOM_UTF8 + b" \n"])
def test_whitespace_only_text_has_no_extractable_text(reader: DocumentReader, data: bytes) -> None:
    with pytest.raises(NoExtractableText) as caught:
        reader.read(data, "cv.txt")
    assert caught.value.details["reason"] == "whitespace_only"


def test_plain_text(reader: DocumentReader) -> None:
    document = reader.read(
        b"Jane Doe\r\nPython   developer\r\n\r\n\r\n\r\nReferences\x07", "cv.txt"
    )
    assert document.media_type is MediaType.TEXT
    assert document.text == "Jane Doe\nPython developer\n\nReferences"
    assert document.page_count is None
    assert document.warnings == ()


def test_markdown(reader: DocumentReader) -> None:
    document = reader.read(b"# Jane\n\n- Python\n- [Blog](https://example.com)\n", "cv.txt")
    assert document.media_type is MediaType.MARKDOWN
    assert document.text == "# Jane\n\n- Python\n- [Blog](https://example.com)"


def test_utf16_text(reader: DocumentReader) -> None:
    data = codecs.BOM_UTF16_LE + "Jürgen Müller\nPython".encode("utf-16-le")
    document = reader.read(data, "cv.txt")
    assert document.text == "Jürgen Müller\nPython"


def test_utf8_bom_is_not_part_of_the_text(reader: DocumentReader) -> None:
    assert reader.read(codecs.BOM_UTF8 + b"Hello", "cv.txt").text == "Hello"


def test_text_with_nul_bytes_is_refused(reader: DocumentReader) -> None:
    with pytest.raises(UnsupportedMediaType):
        reader.read(b"Hello\x00world", "cv.txt")


def test_renamed_text_is_read_as_text(reader: DocumentReader) -> None:
    document = reader.read(b"Plain text pretending to be a PDF.", "cv.pdf")
    assert document.media_type is MediaType.TEXT


@pytest.mark.parametrize(
    ("data", "filename"),
    [(make_elf(), "cv.pdf"), (make_zip(), "cv.docx"), (make_elf(), "cv.txt")],
)
def test_refused_content_whatever_the_name(
    reader: DocumentReader, data: bytes, filename: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        reader.read(data, filename)
    assert caught.value.details["detected"]


def test_long_text_is_truncated_with_a_warning() -> None:
    document = DocumentReader(max_text_chars=50).read(b"word " * 100, "cv.txt")
    assert len(document.text) <= 50
    assert document.warnings == ("truncated",)


def test_text_at_the_limit_is_not_truncated() -> None:
    document = DocumentReader(max_text_chars=10).read(b"0123456789", "cv.txt")
    assert (document.text, document.warnings) == ("0123456789", ())


def test_hidden_text_is_capped_too() -> None:
    data = make_docx(["short visible text"], hidden=["hidden " * 50])
    document = DocumentReader(max_text_chars=40).read(data, "cv.docx")
    assert len(document.hidden_text) <= 40
    assert document.warnings == ("hidden_text", "truncated")


def test_unexpected_failures_become_unprocessable(
    reader: DocumentReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes, filename: str) -> MediaType:
        raise RecursionError("too deep")

    monkeypatch.setattr(reader_module, "detect_media_type", broken)
    with pytest.raises(UnprocessableDocument) as caught:
        reader.read(b"hello", "cv.txt")
    assert caught.value.details == {"reason": "unreadable", "error": "RecursionError"}


@pytest.mark.parametrize(
    "make",
    [
        lambda text: make_pdf(text.split("\n\n")),
        lambda text: make_docx(text.split("\n\n")),
        lambda text: text.encode(),
    ],
    ids=["pdf", "docx", "text"],
)
@pytest.mark.parametrize("sample", [SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT], ids=["cv", "project"])
def test_sample_documents_read_the_same_in_every_format(
    reader: DocumentReader, make: Callable[[str], bytes], sample: str
) -> None:
    document = reader.read(make(sample), "upload")
    words = sample.split()
    assert document.text.split() == words
    assert "\x00" not in document.text
