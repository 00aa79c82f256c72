from __future__ import annotations

import pytest

from cv_evaluator.domain.clock import ManualClock
from cv_evaluator.domain.documents import DocumentKind, ExtractedDocument, MediaType
from cv_evaluator.domain.errors import NoExtractableText, UnsupportedMediaType
from cv_evaluator.domain.ids import IdKind, kind_of
from cv_evaluator.service.uploads import IncomingFile, UploadService
from tests.support.fakes import InMemoryBlobStore, InMemoryUnitOfWorkFactory


class TextOnlyReader:
    """A DocumentReader fake: plain text passes, b"" is empty, anything with NUL is refused."""

    def read(self, data: bytes, filename: str) -> ExtractedDocument:
        if b"\x00" in data:
            raise UnsupportedMediaType("binary", details={"detected": "binary"})
        if not data.strip():
            raise NoExtractableText("empty")
        return ExtractedDocument(MediaType.TEXT, data.decode(), None)


def test_text_only_reader_fake_follows_the_port_rules() -> None:
    reader = TextOnlyReader()
    assert reader.read(b"hello", "a.txt").text == "hello"
    with pytest.raises(NoExtractableText):
        reader.read(b"  ", "a.txt")
    with pytest.raises(UnsupportedMediaType):
        reader.read(b"\x00\x01", "a.txt")


@pytest.fixture
def uow() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def blobs() -> InMemoryBlobStore:
    return InMemoryBlobStore()


@pytest.fixture
def service(uow: InMemoryUnitOfWorkFactory, blobs: InMemoryBlobStore) -> UploadService:
    return UploadService(uow, blobs, TextOnlyReader(), ManualClock())


async def test_upload_stores_both_documents_with_metadata(
    service: UploadService, uow: InMemoryUnitOfWorkFactory, blobs: InMemoryBlobStore
) -> None:
    cv, project = await service.upload(
        IncomingFile("cv", "../../etc/cv.txt", b"Python engineer"),
        IncomingFile("project", "report.md", b"My project"),
    )
    assert kind_of(cv.id) is IdKind.CV and kind_of(project.id) is IdKind.PROJECT
    assert cv.kind is DocumentKind.CV and project.kind is DocumentKind.PROJECT
    assert cv.filename == "cv.txt"  # never a path
    assert cv.size_bytes == 15 and len(cv.sha256) == 64
    assert set(uow.db.uploads) == {cv.id, project.id}
    assert blobs.blobs[cv.storage_path] == b"Python engineer"


async def test_a_bad_second_file_stores_nothing(
    service: UploadService, uow: InMemoryUnitOfWorkFactory, blobs: InMemoryBlobStore
) -> None:
    with pytest.raises(NoExtractableText) as caught:
        await service.upload(
            IncomingFile("cv", "cv.txt", b"ok"), IncomingFile("project", "p.txt", b"")
        )
    assert caught.value.details["field"] == "project"
    assert uow.db.uploads == {} and blobs.blobs == {}


async def test_a_failed_blob_write_removes_the_other_blob(
    service: UploadService, uow: InMemoryUnitOfWorkFactory, blobs: InMemoryBlobStore
) -> None:
    blobs.fail_on_put = 2
    with pytest.raises(OSError, match="disk full"):
        await service.upload(
            IncomingFile("cv", "cv.txt", b"ok"), IncomingFile("project", "p.txt", b"ok")
        )
    assert uow.db.uploads == {} and blobs.blobs == {}
