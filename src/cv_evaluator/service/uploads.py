"""Upload a CV and a project report: both are stored, or neither is."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.documents import DocumentKind, ExtractedDocument, Upload
from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.domain.ports import BlobStore, DocumentReader, UnitOfWorkFactory

_MAX_FILENAME = 255


@dataclass(frozen=True, slots=True)
class IncomingFile:
    field: str
    filename: str
    data: bytes


def _clean_filename(name: str) -> str:
    # Only the base name is kept and shown; it never becomes a path.
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in base if ch.isprintable())
    return cleaned[:_MAX_FILENAME] or "unnamed"


class UploadService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        blobs: BlobStore,
        reader: DocumentReader,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._reader = reader
        self._clock = clock

    async def _extract(self, incoming: IncomingFile) -> ExtractedDocument:
        try:
            return await asyncio.to_thread(self._reader.read, incoming.data, incoming.filename)
        except CvEvaluatorError as exc:
            # Say which of the two files was refused.
            exc.details.setdefault("field", incoming.field)
            exc.details.setdefault("filename", _clean_filename(incoming.filename))
            raise

    def _to_upload(
        self, kind: DocumentKind, incoming: IncomingFile, document: ExtractedDocument
    ) -> Upload:
        upload_id = new_id(IdKind.CV if kind is DocumentKind.CV else IdKind.PROJECT)
        return Upload(
            id=upload_id,
            kind=kind,
            filename=_clean_filename(incoming.filename),
            media_type=document.media_type,
            size_bytes=len(incoming.data),
            sha256=hashlib.sha256(incoming.data).hexdigest(),
            page_count=document.page_count,
            text=document.text,
            storage_path=upload_id,
            created_at=self._clock.now(),
            warnings=document.warnings,
            hidden_text=document.hidden_text,
        )

    async def upload(self, cv: IncomingFile, project: IncomingFile) -> tuple[Upload, Upload]:
        # Validate both before storing anything, so a bad second file leaves no orphan first.
        cv_doc = await self._extract(cv)
        project_doc = await self._extract(project)
        pairs = [
            (self._to_upload(DocumentKind.CV, cv, cv_doc), cv.data),
            (self._to_upload(DocumentKind.PROJECT, project, project_doc), project.data),
        ]
        written: list[str] = []
        try:
            for upload, data in pairs:
                written.append(await self._blobs.put(upload.storage_path, data))
            async with self._uow() as uow:
                for upload, _ in pairs:
                    await uow.uploads.add(upload)
                await uow.commit()
        except BaseException:
            for key in written:
                await self._blobs.delete(key)
            raise
        return pairs[0][0], pairs[1][0]
