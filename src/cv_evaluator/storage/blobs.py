"""Original upload bytes kept as files under ``DATA_DIR/uploads``."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        # Keys come from our own ids, but a path must never be steerable by input.
        if not _SAFE_KEY.match(key) or key.startswith("."):
            raise ValueError(f"unsafe blob key {key!r}")
        return self._root / key[-2:] / key

    async def put(self, key: str, data: bytes) -> str:
        await asyncio.to_thread(self._write, self._path(key), data)
        return key

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Write to a temporary file and rename, so a crash never leaves a half-written original.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp_name).replace(path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
