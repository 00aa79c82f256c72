"""The archive guard on its own, including the read budget that backs up the directory check."""

from __future__ import annotations

import io
import zipfile

import pytest

from cv_evaluator.domain.errors import UnprocessableDocument
from cv_evaluator.ingest.limits import ReaderLimits
from cv_evaluator.ingest.zip_guard import RATIO_CHECK_MIN_BYTES, GuardedArchive


def _archive(members: dict[str, bytes]) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


def test_reads_members_case_insensitively() -> None:
    guarded = GuardedArchive(_archive({"Word/Document.xml": b"<x/>"}), ReaderLimits())
    assert guarded.read("word/document.xml") == b"<x/>"
    assert guarded.read("word/missing.xml") is None


def test_small_compressible_members_are_fine() -> None:
    limits = ReaderLimits(max_compression_ratio=2)
    guarded = GuardedArchive(_archive({"a.xml": b" " * (RATIO_CHECK_MIN_BYTES - 1)}), limits)
    assert guarded.read("a.xml") is not None


def test_budget_is_shared_between_reads() -> None:
    archive = _archive({"a.xml": b"a" * 600, "b.xml": b"b" * 600})
    lying = archive.getinfo("b.xml")
    lying.file_size = 300  # the directory claims 900 bytes in total: within the limit
    guarded = GuardedArchive(archive, ReaderLimits(max_uncompressed_bytes=1000))
    assert guarded.read("a.xml") == b"a" * 600
    # Then the member inflates to its real size, past what is left of the budget.
    lying.file_size = 600
    with pytest.raises(UnprocessableDocument) as caught:
        guarded.read("b.xml")
    assert caught.value.details["reason"] == "zip_bomb"


def test_declared_total_over_the_limit() -> None:
    archive = _archive({"a.xml": b"a" * 600, "b.xml": b"b" * 600})
    with pytest.raises(UnprocessableDocument) as caught:
        GuardedArchive(archive, ReaderLimits(max_uncompressed_bytes=1000))
    assert caught.value.details["declared_bytes"] == 1200


@pytest.mark.parametrize(
    "field",
    [
        "max_pages",
        "max_uncompressed_bytes",
        "max_compression_ratio",
        "max_text_chars",
        "max_archive_members",
    ],
)
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ReaderLimits(**{field: 0})
