"""Zip-bomb defence: judge an archive by its directory before inflating a single byte of it."""

from __future__ import annotations

import zipfile
from typing import Any

from cv_evaluator.domain.errors import UnprocessableDocument
from cv_evaluator.ingest.limits import ReaderLimits

# A member must be at least this big before its compression ratio matters: tiny members cannot
# hurt, and very small highly-compressible XML parts are normal.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
_ENCRYPTED_FLAG = 0x1


def zip_bomb(message: str, **details: Any) -> UnprocessableDocument:
    return UnprocessableDocument(
        f"The archive looks like a zip bomb: {message}.",
        details={"reason": "zip_bomb", **details},
    )


class GuardedArchive:
    """An archive whose declared sizes passed the limits, read within a shared byte budget.

    The budget also bounds the actual reads, because the sizes in a zip directory are only claims.
    """

    def __init__(self, archive: zipfile.ZipFile, limits: ReaderLimits) -> None:
        members = archive.infolist()
        _check_directory(members, limits)
        self._archive = archive
        self._budget = limits.max_uncompressed_bytes
        # Office Open XML part names are case-insensitive.
        self._members = {info.filename.lower(): info for info in members}

    def read(self, name: str) -> bytes | None:
        """The member's bytes, or None if the archive has no such member."""
        info = self._members.get(name.lower())
        if info is None:
            return None
        if info.flag_bits & _ENCRYPTED_FLAG:
            raise UnprocessableDocument(
                "The document is password protected.",
                details={"reason": "encrypted", "member": info.filename},
            )
        with self._archive.open(info) as member:
            data = member.read(self._budget + 1)
        if len(data) > self._budget:
            raise zip_bomb("it inflates beyond the size limit", member=info.filename)
        self._budget -= len(data)
        return data


def _check_directory(members: list[zipfile.ZipInfo], limits: ReaderLimits) -> None:
    if len(members) > limits.max_archive_members:
        raise zip_bomb(
            "it has too many members", members=len(members), limit=limits.max_archive_members
        )
    declared = sum(info.file_size for info in members)
    if declared > limits.max_uncompressed_bytes:
        raise zip_bomb(
            "its declared uncompressed size is too large",
            declared_bytes=declared,
            limit=limits.max_uncompressed_bytes,
        )
    for info in members:
        if _ratio_too_high(info, limits.max_compression_ratio):
            raise zip_bomb(
                "a member is compressed suspiciously well",
                member=info.filename,
                limit=limits.max_compression_ratio,
            )


def _ratio_too_high(info: zipfile.ZipInfo, max_ratio: int) -> bool:
    if info.file_size < RATIO_CHECK_MIN_BYTES:
        return False
    return info.file_size > max(info.compress_size, 1) * max_ratio
