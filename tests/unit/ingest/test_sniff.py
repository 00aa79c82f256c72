"""The real type comes from the content; the filename never rescues or condemns a file."""

from __future__ import annotations

import codecs
import gzip
import io
import tarfile
import zipfile

import pytest

from cv_evaluator.domain.documents import MediaType
from cv_evaluator.domain.errors import UnprocessableDocument, UnsupportedMediaType
from cv_evaluator.ingest import detect_media_type
from tests.support.documents import make_docx, make_elf, make_pdf, make_zip

PLAIN = b"Jane Doe\nBackend engineer with Python and PostgreSQL experience.\n"


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("cv.txt")
        info.size = len(PLAIN)
        archive.addfile(info, io.BytesIO(PLAIN))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (make_pdf(["Hello"]), "cv.pdf", MediaType.PDF),
        (make_pdf(["Hello"]), "cv.txt", MediaType.PDF),
        (make_pdf(["Hello"]), "cv", MediaType.PDF),
        (make_docx(["Hello"]), "cv.docx", MediaType.DOCX),
        (make_docx(["Hello"]), "cv.pdf", MediaType.DOCX),
        (PLAIN, "cv.txt", MediaType.TEXT),
        (PLAIN, "cv.pdf", MediaType.TEXT),
        (PLAIN, "cv.docx", MediaType.TEXT),
        (PLAIN, "cv.md", MediaType.MARKDOWN),
        (PLAIN, "CV.MARKDOWN", MediaType.MARKDOWN),
    ],
    ids=[
        "pdf",
        "pdf-named-txt",
        "pdf-no-extension",
        "docx",
        "docx-named-pdf",
        "text",
        "text-named-pdf",
        "text-named-docx",
        "text-named-md",
        "text-named-markdown",
    ],
)
def test_type_comes_from_content(data: bytes, filename: str, expected: MediaType) -> None:
    assert detect_media_type(data, filename) is expected


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (make_zip(), "zip archive"),
        (b"PK\x05\x06" + bytes(18), "zip archive"),
        (gzip.compress(PLAIN, mtime=0), "gzip archive"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24), "7z archive"),
        (b"Rar!\x1a\x07\x01\x00" + bytes(24), "rar archive"),
        (b"BZh91AY&SY" + bytes(24), "bzip2 archive"),
        (b"\xfd7zXZ\x00\x00\x04" + bytes(24), "xz archive"),
        (_tar(), "tar archive"),
        (make_elf(), "ELF executable"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56), "Windows PE/MZ executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24), "Mach-O executable"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x41" + bytes(24), "Java class or Mach-O universal binary"),
        (b"#!/bin/sh\nrm -rf /\n", "script with a shebang line"),
        (b"\x89PNG\r\n\x1a\n" + bytes(24), "PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(24), "JPEG image"),
        (b"GIF89a\x01\x00\x01\x00" + bytes(24), "GIF image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24), "WebP image"),
        (b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00" + bytes(24), "BMP image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(24), "legacy Office (OLE2) document"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG image"),
    ],
)
def test_refused_formats_say_what_they_are(data: bytes, detected: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        detect_media_type(data, "cv.pdf")
    assert caught.value.details["detected"] == detected
    assert caught.value.details["reason"]


def test_elf_named_pdf_is_rejected_as_executable() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        detect_media_type(make_elf(), "resume.pdf")
    assert "executable" in caught.value.details["detected"].lower()


def test_office_file_that_is_not_docx_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedMediaType) as caught:
        detect_media_type(buffer.getvalue(), "cv.docx")
    assert caught.value.details["detected"] == "Office Open XML file other than DOCX"


def test_docx_with_broken_central_directory_is_corrupt_not_unknown() -> None:
    truncated = make_docx(["Hello world"])[:-30]
    with pytest.raises(UnprocessableDocument) as caught:
        detect_media_type(truncated, "cv.docx")
    assert caught.value.details["reason"] == "corrupt_archive"


@pytest.mark.parametrize(
    "text",
    [
        "BMW service technician turned backend developer.\n",
        "MZ is my nickname.\n",
        "Converted WEBP images to PNG in a batch job.\n",
    ],
)
def test_text_that_starts_like_a_magic_number_is_still_text(text: str) -> None:
    assert detect_media_type(text.encode(), "cv.txt") is MediaType.TEXT


def test_utf8_with_bom_is_text() -> None:
    assert detect_media_type(codecs.BOM_UTF8 + PLAIN, "cv.txt") is MediaType.TEXT


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_text(encoding: str) -> None:
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    assert detect_media_type(bom + PLAIN.decode().encode(encoding), "cv.txt") is MediaType.TEXT


def test_utf16_without_bom_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        detect_media_type(PLAIN.decode().encode("utf-16-le"), "cv.txt")


def test_text_with_nul_bytes_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        detect_media_type(b"Jane Doe\x00\x00 Python developer\n", "cv.txt")
    assert "NUL" in caught.value.details["detected"]


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        detect_media_type("Jürgen Müller, Köln".encode("latin-1"), "cv.txt")
    assert caught.value.details["detected"] == "binary data"


def test_mostly_unprintable_utf8_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        detect_media_type(b"ab" + b"\x01\x02\x03\x1b" * 20, "cv.txt")
    assert "unprintable" in caught.value.details["detected"]


MARKDOWN_CV = b"""# Jane Doe

## Skills
- Python
- PostgreSQL

See [my GitHub](https://github.com/janedoe).
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MARKDOWN_CV, MediaType.MARKDOWN),
        (b"# Title\n\nSome **bold** claim.\n", MediaType.MARKDOWN),
        (b"Intro\n\n```python\nprint(1)\n```\n\n- a\n- b\n", MediaType.MARKDOWN),
        (b"Skills:\n- Python\n- Go\n- SQL\n", MediaType.TEXT),
        (b"# not really a heading, just one line\nplain text follows\n", MediaType.TEXT),
        (b"Portfolio at https://example.com and [draft] notes.\n", MediaType.TEXT),
    ],
    ids=["heading-list-link", "heading-bold", "fence-list", "list-only", "heading-only", "plain"],
)
def test_markdown_is_recognised_by_content(text: bytes, expected: MediaType) -> None:
    assert detect_media_type(text, "cv.txt") is expected
