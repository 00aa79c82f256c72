"""The backup directory on disk: one directory per backup, its manifest, its files, a lock.

Layout of ``MAINT_BACKUP_DIR`` (default ``DATA_DIR/backups``)::

    .lock                       held by create, verify, restore and prune (one at a time)
    bkp_<ULID>/manifest.json    what the backup holds and how it was verified
    bkp_<ULID>/database.dump    PostgreSQL: pg_dump --format=custom
    bkp_<ULID>/database.sqlite3 SQLite: a copy made with the online backup API
    bkp_<ULID>/uploads/...      the stored upload originals, same layout as DATA_DIR/uploads
    .tmp-bkp_<ULID>/            a backup being written; renamed to bkp_<ULID> when complete
    .verify-*/                  scratch space of a running verification

A backup directory without ``.tmp-`` in front is complete by construction: it is renamed into
place only after the manifest is written and flushed, so a crash never leaves a backup that looks
complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cv_evaluator.domain.errors import Conflict, InvalidArgument, NotFound
from cv_evaluator.domain.ids import IdKind, kind_of

MANIFEST = "manifest.json"
FILES_DIR = "uploads"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
TMP_PREFIX = ".tmp-"
VERIFY_PREFIX = ".verify-"
LOCK_FILE = ".lock"
MANIFEST_FORMAT = 1
# Blob writes in progress (storage.blobs writes to a temporary file, then renames it).
BLOB_TMP_PREFIX = ".tmp-"
_CHUNK = 1024 * 1024


# ------------------------------------------------------------------------------------ manifests


@dataclass(slots=True)
class Backup:
    """A complete backup: its directory and its manifest (a plain JSON document)."""

    path: Path
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(str(self.manifest["created_at"]))

    @property
    def backend(self) -> str:
        return str(self.manifest["backend"])

    @property
    def verified(self) -> dict[str, Any] | None:
        value = self.manifest.get("verified")
        return dict(value) if isinstance(value, dict) else None

    @property
    def verified_ok(self) -> bool:
        verified = self.verified
        return bool(verified and verified.get("ok"))

    @property
    def verified_at(self) -> datetime | None:
        verified = self.verified
        return datetime.fromisoformat(str(verified["at"])) if verified else None

    @property
    def size_bytes(self) -> int:
        return int(self.manifest["database"]["size_bytes"]) + int(self.manifest["files"]["bytes"])

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.manifest["tables"].values())

    @property
    def database_file(self) -> Path:
        return self.path / str(self.manifest["database"]["file"])

    def summary(self) -> dict[str, Any]:
        """What `backup list --json` shows of it."""
        verified = self.verified
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "backend": self.backend,
            "reason": self.manifest.get("reason"),
            "size_bytes": self.size_bytes,
            "rows": self.rows,
            "files": int(self.manifest["files"]["count"]),
            "schema_revision": self.manifest.get("schema_revision"),
            "verified": verified is not None,
            "verified_ok": self.verified_ok,
            "verified_at": verified.get("at") if verified else None,
            "rto_seconds": verified.get("rto_seconds") if verified else None,
            "problems": list(verified.get("problems", [])) if verified else [],
            "path": str(self.path),
        }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write atomically and durably: a reader sees the old or the new document, never half."""
    tmp = path.with_name(f"{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_backup(path: Path) -> Backup:
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or manifest.get("id") != path.name:
        raise ValueError(f"{path / MANIFEST} does not describe backup {path.name}")
    return Backup(path=path, manifest=manifest)


@dataclass(slots=True)
class Listing:
    backups: list[Backup] = field(default_factory=list)  # oldest first
    unreadable: dict[str, str] = field(default_factory=dict)  # directory → why
    leftovers: list[Path] = field(default_factory=list)  # .tmp-/.verify- directories

    def of_backend(self, backend: str) -> list[Backup]:
        """The backups of a ``postgresql`` or ``sqlite`` database, oldest first."""
        return [b for b in self.backups if b.backend == backend]

    def verified(self, backend: str) -> list[Backup]:
        """Those whose last restore verification passed, oldest first."""
        return [b for b in self.of_backend(backend) if b.verified_ok]


def list_backups(root: Path) -> Listing:
    listing = Listing()
    if not root.is_dir():
        return listing
    for entry in sorted(root.iterdir()):
        if not entry.is_dir():
            continue
        if entry.name.startswith((TMP_PREFIX, VERIFY_PREFIX)):
            listing.leftovers.append(entry)
            continue
        if kind_of(entry.name) is not IdKind.BACKUP:
            continue
        try:
            listing.backups.append(read_backup(entry))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            listing.unreadable[entry.name] = f"{type(exc).__name__}: {exc}"
    listing.backups.sort(key=lambda b: (b.created_at, b.id))
    return listing


def find_backup(root: Path, backup_id: str) -> Backup:
    """The backup named ``backup_id``; ``latest`` names the newest one."""
    if backup_id == "latest":
        backups = list_backups(root).backups
        if not backups:
            raise NotFound(f"no backup in {root}")
        return backups[-1]
    if kind_of(backup_id) is not IdKind.BACKUP:
        raise InvalidArgument(f"{backup_id!r} is not a backup id (bkp_...) nor 'latest'")
    path = root / backup_id
    if not (path / MANIFEST).is_file():
        raise NotFound(f"no backup {backup_id} in {root}")
    try:
        return read_backup(path)
    except (OSError, ValueError) as exc:
        raise NotFound(f"backup {backup_id} has an unreadable manifest: {exc}") from None


@contextmanager
def backup_lock(root: Path) -> Iterator[None]:
    """One create, verify, restore or prune at a time (they would trip over each other)."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(root / LOCK_FILE, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"another backup operation (create, verify, restore or prune) is running on "
                f"{root}; try again when it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------- files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stored_files(root: Path) -> list[str]:
    """Paths (POSIX, relative to ``root``) of the stored originals; writes in progress excluded."""
    if not root.is_dir():
        return []
    found: list[str] = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            if name.startswith(BLOB_TMP_PREFIX):
                continue
            found.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(found)


def _copy_durably(source: Path, target: Path) -> None:
    with open(source, "rb") as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, _CHUNK)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, target)


def place_file(source: Path, target: Path, *, hardlink: bool) -> str:
    """Put ``source`` at ``target``: a hard link when allowed and possible, else a copy.

    Returns "link" or "copy". A link is only correct because originals are immutable: the blob
    store writes a new file and renames it, never rewriting one in place.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if hardlink and _link(source, target):
        return "link"
    _copy_durably(source, target)
    return "copy"


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:
        # EXDEV (another filesystem), EPERM or EMLINK (links refused, too many): copy instead.
        return False
    return True


def replace_file(source: Path, target: Path, *, hardlink: bool) -> str:
    """Put ``source`` at ``target`` atomically (a reader sees the old file or the new one)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{BLOB_TMP_PREFIX}restore-{target.name}")
    tmp.unlink(missing_ok=True)
    how = place_file(source, tmp, hardlink=hardlink)
    tmp.replace(target)
    return how


def tree_size(path: Path) -> int:
    total = 0
    for directory, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += (Path(directory) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total


def human_bytes(value: float) -> str:
    """1536 → '1.5 KiB': sizes in messages, for people; figures keep exact bytes."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
