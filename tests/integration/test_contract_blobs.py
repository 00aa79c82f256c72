"""Contract tests: the file blob store and its in-memory fake behave the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from cv_evaluator.domain.ports import BlobStore
from cv_evaluator.storage.blobs import FileBlobStore
from tests.support.fakes import InMemoryBlobStore


@pytest.fixture(params=["memory", "files"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return InMemoryBlobStore()
    return FileBlobStore(tmp_path / "uploads")


async def test_put_exists_delete(blobs: BlobStore) -> None:
    key = await blobs.put("cv_01JAAAAAAAAAAAAAAAAAAAAAAA", b"%PDF-1.7 bytes")
    assert await blobs.exists(key)
    await blobs.delete(key)
    assert not await blobs.exists(key)
    await blobs.delete(key)  # deleting twice is harmless


async def test_files_are_written_whole(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "uploads")
    key = await store.put("prj_01JAAAAAAAAAAAAAAAAAAAAAAA", b"x" * 1000)
    (stored,) = [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]
    assert stored.name == key and stored.read_bytes() == b"x" * 1000


@pytest.mark.parametrize("key", ["../escape", "a/b", ".hidden", ""])
async def test_keys_can_never_name_a_path(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsafe blob key"):
        await FileBlobStore(tmp_path).put(key, b"data")
