"""Backups of the database and the stored upload files, restore drills, restore and pruning.

- **create**: PostgreSQL is dumped with ``pg_dump --format=custom``; the row counts and checksums
  of the manifest are computed in a REPEATABLE READ transaction whose snapshot pg_dump imports
  (``pg_export_snapshot()`` + ``--snapshot``), so the figures describe exactly the rows dumped
  while the service keeps writing. SQLite is copied with the online backup API (a consistent
  copy, safe while the service writes), and the figures are computed from that copy. The upload
  originals are copied, or hard-linked when ``MAINT_BACKUP_HARDLINK`` allows and the backup
  directory is on the same filesystem, *after* the database: an upload's file is written before
  its row, so every row in the snapshot already has its file.
- **verify**: restores into a scratch database (a temporary PostgreSQL database on the same
  server, or a temporary SQLite file), compares counts and checksums table by table with the
  manifest, looks for broken references, checks pages (``pg_amcheck`` / ``PRAGMA
  integrity_check``) and every file's SHA-256, and times the restore: the recovery time (RTO).
- **restore**: checks the backup is intact, takes a safety backup of the current state, then
  replaces the database (``pg_restore --clean --if-exists --single-transaction``, or the SQLite
  backup API run in reverse into the live file) and makes ``DATA_DIR/uploads`` match the backup.
- **prune**: grandfather-father-son (``ops.backup_prune``); the newest verified backup stays.

The task ``backup`` creates and verifies a backup; the check ``backup.age`` reports the age of
the newest verified backup (the recovery point).
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cv_evaluator import __version__
from cv_evaluator.domain.errors import Conflict, CvEvaluatorError, Forbidden, InvalidArgument
from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.domain.maintenance import MaintenanceAudit, MaintenanceState
from cv_evaluator.ops.backup_digest import (
    TableDigest,
    broken_references,
    compare,
    digests,
    present_tables,
    schema_revision,
)
from cv_evaluator.ops.backup_prune import Candidate, select_kept
from cv_evaluator.ops.backup_store import (
    FILES_DIR,
    MANIFEST,
    MANIFEST_FORMAT,
    PG_DUMP_FILE,
    SQLITE_FILE,
    TMP_PREFIX,
    VERIFY_PREFIX,
    Backup,
    Listing,
    backup_lock,
    find_backup,
    fsync_dir,
    human_bytes,
    list_backups,
    now_iso,
    place_file,
    read_backup,
    replace_file,
    sha256_file,
    stored_files,
    write_json,
)
from cv_evaluator.ops.backup_tools import (
    BackupFailed,
    ToolMissing,
    find_pg_tool,
    pg_target,
    run_tool,
    shown,
    tool_version,
)
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.grading import above
from cv_evaluator.ops.model import Outcome, Status, TaskOutcome, TaskStatus, Threshold
from cv_evaluator.ops.registry import check, task
from cv_evaluator.storage.blobs import FileBlobStore
from cv_evaluator.storage.engine import make_async_engine, sqlite_path
from cv_evaluator.storage.maintenance import SqlMaintenanceStore
from cv_evaluator.storage.migrate import head_revision
from cv_evaluator.storage.tables import metadata, uploads

GROUP = "backup"
CRITICAL_AGE_FACTOR = 3
SCRATCH_DB_PREFIX = "cv_verify_"
_INSUFFICIENT_PRIVILEGE = "42501"
# Problems and warnings quoted in one-line summaries; the full lists are in the manifest.
QUOTED = 3

# A hook run on the restored scratch copy before it is compared (tests corrupt a row with it).
BeforeCompare = Callable[[AsyncEngine], Awaitable[None]]
# Given the restored copy's database URL (as DB_URL takes it) after it passed or failed the
# comparison, while it still exists: the drill starts a service on it.
AfterCompare = Callable[[str, Backup], Awaitable[None]]


def _first_line(exc: BaseException | None) -> str:
    message = str(exc).strip() if exc is not None else ""
    return message.splitlines()[0] if message else type(exc).__name__


@contextmanager
def _plain_errors(what: str) -> Iterator[None]:
    """Driver and file-system errors as a BackupFailed that says what was being done."""
    try:
        yield
    except CvEvaluatorError:
        raise
    except DBAPIError as exc:
        raise BackupFailed(f"{what} failed: database error: {_first_line(exc.orig)}") from exc
    except OSError as exc:
        raise BackupFailed(f"{what} failed: {exc}") from exc


def uploads_root(ctx: OpsContext) -> Path:
    return ctx.settings.data_dir / "uploads"


def backend_of(ctx: OpsContext) -> str:
    return "sqlite" if ctx.is_sqlite else "postgresql"


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# ========================================================================================= create


@dataclass(slots=True)
class _Captured:
    """The database part of a backup, as the manifest records it."""

    database: dict[str, Any]
    tables: dict[str, TableDigest]
    revision: str | None
    tools: dict[str, str]
    snapshot: str | None = None


async def create_backup(ctx: OpsContext, *, reason: str = "manual") -> Backup:
    with _plain_errors("the backup"), backup_lock(ctx.settings.backup_dir):
        return await _create(ctx, reason)


async def _create(ctx: OpsContext, reason: str) -> Backup:
    root = ctx.settings.backup_dir
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    created_at = ctx.clock.now()
    backup_id = new_id(IdKind.BACKUP, now_ms=int(created_at.timestamp() * 1000))
    tmp = root / f"{TMP_PREFIX}{backup_id}"
    # Backups hold CVs: readable by the service's user only.
    tmp.mkdir(mode=0o700)
    started = time.perf_counter()
    done = False
    try:
        if ctx.is_postgresql:
            captured = await _capture_postgres(ctx, tmp / PG_DUMP_FILE)
        else:
            captured = await _capture_sqlite(ctx, tmp / SQLITE_FILE)
        files = await asyncio.to_thread(
            _copy_files, uploads_root(ctx), tmp / FILES_DIR, ctx.settings.maint_backup_hardlink
        )
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "id": backup_id,
            "created_at": now_iso(created_at),
            "duration_seconds": round(time.perf_counter() - started, 3),
            "reason": reason,
            "actor": ctx.actor,
            "host": socket.gethostname(),
            "backend": backend_of(ctx),
            "source": _redacted(ctx.settings.database_url),
            "schema_revision": captured.revision,
            "snapshot": captured.snapshot,
            "database": captured.database,
            "tables": {name: d.as_dict() for name, d in captured.tables.items()},
            "files": files,
            "tools": captured.tools,
            "verified": None,
        }
        await asyncio.to_thread(write_json, tmp / MANIFEST, manifest)
        final = root / backup_id
        tmp.rename(final)
        await asyncio.to_thread(fsync_dir, root)
        done = True
        return read_backup(final)
    finally:
        if not done:
            shutil.rmtree(tmp, ignore_errors=True)


def _base_tools() -> dict[str, str]:
    return {
        "cv_evaluator": __version__,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


async def _capture_postgres(ctx: OpsContext, dump_path: Path) -> _Captured:
    settings = ctx.settings
    pg_dump = find_pg_tool("pg_dump", settings)
    target, env = pg_target(settings.database_url)
    lock_ms = round(settings.maint_pg_lock_timeout_seconds * 1000)
    async with ctx.engine.connect() as base:
        connection = await base.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        async with connection.begin():
            # The first statement fixes the transaction's snapshot; pg_dump imports the same one.
            snapshot = str(
                (await connection.exec_driver_sql("SELECT pg_export_snapshot()")).scalar_one()
            )
            server = str((await connection.exec_driver_sql("SHOW server_version")).scalar_one())
            argv = pg_dump_argv(pg_dump, snapshot, lock_ms, dump_path, target)
            dump = asyncio.create_task(run_tool(argv, env=env))
            try:
                revision = await schema_revision(connection)
                tables = await digests(connection)
                result = await dump
            finally:
                if not dump.done():
                    dump.cancel()
                    await asyncio.gather(dump, return_exceptions=True)
    if result.returncode != 0:
        raise BackupFailed(f"pg_dump failed (exit {result.returncode}): {result.tail()}")
    size, digest = await asyncio.to_thread(_seal, dump_path)
    tools = {**_base_tools(), "pg_dump": await tool_version(pg_dump), "server": server}
    return _Captured(
        database={
            "file": PG_DUMP_FILE,
            "format": "pg_dump custom",
            "size_bytes": size,
            "sha256": digest,
        },
        tables=tables,
        revision=revision,
        tools=tools,
        snapshot=snapshot,
    )


def pg_dump_argv(
    pg_dump: str | Path, snapshot: str, lock_ms: int, dump_path: Path, target: str
) -> list[str]:
    return [
        str(pg_dump),
        "--format=custom",
        f"--snapshot={snapshot}",
        # Waits for table locks (a migration's) give up instead of queueing the service behind.
        f"--lock-wait-timeout={lock_ms}ms",
        "--no-password",
        f"--file={dump_path}",
        target,
    ]


def pg_restore_argv(pg_restore: str | Path, target: str, dump: Path, *, clean: bool) -> list[str]:
    # --no-owner: objects belong to the restoring user (the service's own), whoever owned them
    # before, so a restore never needs to become another role.
    return [
        str(pg_restore),
        *(["--clean", "--if-exists"] if clean else []),
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-password",
        f"--dbname={target}",
        str(dump),
    ]


def amcheck_argv(pg_amcheck: str | Path, target: str) -> list[str]:
    # --install-missing: the scratch database is ours and dropped afterwards.
    return [str(pg_amcheck), "--no-password", "--install-missing", "--heapallindexed", target]


def _seal(path: Path) -> tuple[int, str]:
    """Flush a written file to disk; its size and SHA-256."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    return path.stat().st_size, sha256_file(path)


def _live_sqlite_file(ctx: OpsContext) -> Path:
    path = sqlite_path(ctx.settings.database_url)
    if path is None or str(path) == ":memory:":
        raise BackupFailed("the SQLite database is in memory: there is no file to back up")
    return path


def _sqlite_copy(source: Path, target: Path, *, busy_timeout: float, single_file: bool) -> None:
    """Copy with the online backup API: one consistent snapshot, readers and writers go on."""
    reader = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True, timeout=1.0)
    try:
        writer = sqlite3.connect(target, timeout=busy_timeout)
        try:
            reader.backup(writer)
            if single_file:
                # A backup file should be one self-contained file, readable without -wal/-shm.
                writer.execute("PRAGMA journal_mode=DELETE")
        finally:
            writer.close()
    finally:
        reader.close()


async def _capture_sqlite(ctx: OpsContext, target: Path) -> _Captured:
    live = _live_sqlite_file(ctx)
    if not live.is_file():
        raise BackupFailed(f"the database file {live} does not exist")
    busy = ctx.settings.db_busy_timeout_ms / 1000
    try:
        await asyncio.to_thread(_sqlite_copy, live, target, busy_timeout=busy, single_file=True)
    except sqlite3.Error as exc:
        raise BackupFailed(f"copying {live} failed: {exc}") from None
    size, digest = await asyncio.to_thread(_seal, target)
    # Figures from the copy itself: exactly what the backup holds.
    engine = create_async_engine(_read_only_url(target))
    try:
        async with engine.connect() as connection:
            revision = await schema_revision(connection)
            tables = await digests(connection)
    finally:
        await engine.dispose()
    return _Captured(
        database={"file": SQLITE_FILE, "format": "sqlite", "size_bytes": size, "sha256": digest},
        tables=tables,
        revision=revision,
        tools=_base_tools(),
    )


def _read_only_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///file:{path.absolute().as_posix()}?mode=ro&uri=true"


def _copy_files(source: Path, target: Path, hardlink: bool) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    vanished: list[str] = []
    ways = {"link": 0, "copy": 0}
    target.mkdir(parents=True, exist_ok=True)
    for relative in stored_files(source):
        placed = target / relative
        try:
            ways[place_file(source / relative, placed, hardlink=hardlink)] += 1
        except FileNotFoundError:
            # Deleted (by retention) after it was listed; its row went before it did.
            vanished.append(relative)
            continue
        size = placed.stat().st_size
        entries.append({"path": relative, "size": size, "sha256": sha256_file(placed)})
    return {
        "dir": FILES_DIR,
        "count": len(entries),
        "bytes": sum(int(e["size"]) for e in entries),
        "linked": ways["link"],
        "copied": ways["copy"],
        "vanished": vanished,
        "entries": entries,
    }


# ========================================================================================= verify


@dataclass(slots=True)
class Verification:
    backup_id: str
    at: datetime
    ok: bool
    rto_seconds: float | None
    restore_seconds: float | None
    files_seconds: float
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": now_iso(self.at),
            "ok": self.ok,
            "rto_seconds": self.rto_seconds,
            "restore_seconds": self.restore_seconds,
            "files_seconds": self.files_seconds,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "checks": dict(self.checks),
        }


class RestoreFailed(BackupFailed):
    pass


@dataclass(slots=True)
class _Scratch:
    engine: AsyncEngine
    name: str
    url: str
    restore_seconds: float
    physical: Callable[[], Awaitable[tuple[list[str], list[str], dict[str, Any]]]]


async def verify_backup(
    ctx: OpsContext,
    backup_id: str,
    *,
    before_compare: BeforeCompare | None = None,
    after_compare: AfterCompare | None = None,
) -> Verification:
    """Restore into scratch, compare with the manifest, and record the outcome in it."""
    root = ctx.settings.backup_dir
    with _plain_errors("the verification"), backup_lock(root):
        backup = find_backup(root, backup_id)
        _same_backend(ctx, backup, "verify")
        verification = await _verify(ctx, backup, before_compare, after_compare)
        backup.manifest["verified"] = verification.as_dict()
        await asyncio.to_thread(write_json, backup.path / MANIFEST, backup.manifest)
        return verification


def _same_backend(ctx: OpsContext, backup: Backup, what: str) -> None:
    if backup.backend != backend_of(ctx):
        raise InvalidArgument(
            f"backup {backup.id} is of a {backup.backend} database but the configured database "
            f"is {backend_of(ctx)}: cannot {what} it with this configuration (DB_URL)"
        )


async def _verify(
    ctx: OpsContext,
    backup: Backup,
    before_compare: BeforeCompare | None,
    after_compare: AfterCompare | None,
) -> Verification:
    at = ctx.clock.now()
    problems: list[str] = []
    warnings: list[str] = []
    checks: dict[str, Any] = {}
    expected_db = backup.manifest["database"]
    if not backup.database_file.is_file():
        problems.append(f"the database file {expected_db['file']} is missing from the backup")
    elif await asyncio.to_thread(sha256_file, backup.database_file) != expected_db["sha256"]:
        problems.append(
            f"the database file {expected_db['file']} is damaged: its sha256 differs from the "
            "manifest"
        )
    restore_seconds: float | None = None
    upload_keys: list[str] = []
    scratch_of = _pg_scratch if backup.backend == "postgresql" else _sqlite_scratch
    try:
        async with scratch_of(ctx, backup, warnings) as scratch:
            restore_seconds = scratch.restore_seconds
            checks["scratch"] = scratch.name
            if before_compare is not None:
                await before_compare(scratch.engine)
            async with scratch.engine.connect() as connection:
                revision = await schema_revision(connection)
                found = await digests(connection)
                broken = await broken_references(connection)
                names = {t.name for t in await present_tables(connection)}
                if uploads.name in names:
                    keys = await connection.execute(select(uploads.c.storage_key))
                    upload_keys = [str(k) for k in keys.scalars()]
            page_problems, page_warnings, page_checks = await scratch.physical()
            if after_compare is not None:
                await after_compare(scratch.url, backup)
    except RestoreFailed as exc:
        problems.append(exc.message)
    else:
        checks["tables"] = {name: d.rows for name, d in found.items()}
        checks["schema_revision"] = revision
        if revision != backup.manifest.get("schema_revision"):
            problems.append(
                f"schema revision {revision} restored, "
                f"{backup.manifest.get('schema_revision')} in the manifest"
            )
        problems += compare(backup.manifest["tables"], found)
        problems += [reference.describe() for reference in broken]
        problems += page_problems
        warnings += page_warnings
        checks.update(page_checks)
    started = time.perf_counter()
    file_problems, file_warnings = await asyncio.to_thread(_check_files, backup, upload_keys)
    files_seconds = round(time.perf_counter() - started, 3)
    problems += file_problems
    warnings += file_warnings
    checks["files"] = int(backup.manifest["files"]["count"])
    rto = None if restore_seconds is None else round(restore_seconds + files_seconds, 3)
    return Verification(
        backup_id=backup.id,
        at=at,
        ok=not problems,
        rto_seconds=rto,
        restore_seconds=restore_seconds,
        files_seconds=files_seconds,
        problems=problems,
        warnings=warnings,
        checks=checks,
    )


class _BlobLayout(FileBlobStore):
    """Where the blob store keeps a key, relative to its root (one definition of the layout)."""

    def __init__(self) -> None:
        super().__init__(Path())

    def relative(self, key: str) -> str:
        return self._path(key).as_posix()


def _check_files(backup: Backup, upload_keys: list[str]) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    files_dir = backup.path / FILES_DIR
    listed: set[str] = set()
    for entry in backup.manifest["files"]["entries"]:
        relative = str(entry["path"])
        listed.add(relative)
        path = files_dir / relative
        if not path.is_file():
            problems.append(f"file {FILES_DIR}/{relative} is missing from the backup")
        elif path.stat().st_size != int(entry["size"]) or sha256_file(path) != entry["sha256"]:
            problems.append(
                f"file {FILES_DIR}/{relative} is damaged: its sha256 differs from the manifest"
            )
    layout = _BlobLayout()
    without: list[str] = []
    for key in upload_keys:
        try:
            relative = layout.relative(key)
        except ValueError:
            warnings.append(f"upload storage key {key!r} cannot name a file")
            continue
        if relative not in listed:
            without.append(key)
    if without:
        warnings.append(
            f"{len(without)} uploads have no stored original in the backup "
            f"(e.g. {', '.join(without[:QUOTED])}); their extracted text is in the database"
        )
    vanished = backup.manifest["files"].get("vanished") or []
    if vanished:
        warnings.append(f"{len(vanished)} files were deleted while the backup was taken")
    return problems, warnings


async def _admin(ctx: OpsContext, sql: str) -> None:
    async with ctx.engine.connect() as base:
        connection = await base.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql(sql)


@asynccontextmanager
async def _pg_scratch(
    ctx: OpsContext, backup: Backup, warnings: list[str]
) -> AsyncIterator[_Scratch]:
    settings = ctx.settings
    pg_restore = find_pg_tool("pg_restore", settings)
    name = f"{SCRATCH_DB_PREFIX}{secrets.token_hex(6)}"
    user = make_url(settings.database_url).username or "(default user)"
    try:
        await _admin(ctx, f'CREATE DATABASE "{name}" TEMPLATE template0')
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            raise Forbidden(
                f"the database user {user} may not create databases, and verify restores into "
                f"a scratch database on the same server: grant it (ALTER ROLE {user} CREATEDB) "
                "or run verify with DB_URL naming a user who has CREATEDB"
            ) from None
        raise BackupFailed(
            f"cannot create the scratch database {name}: {_first_line(exc.orig)}"
        ) from exc
    engine: AsyncEngine | None = None
    try:
        target, env = pg_target(settings.database_url, name)
        argv = pg_restore_argv(pg_restore, target, backup.database_file, clean=False)
        started = time.perf_counter()
        result = await run_tool(argv, env=env)
        seconds = round(time.perf_counter() - started, 3)
        if result.returncode != 0:
            raise RestoreFailed(
                f"pg_restore into the scratch database {name} failed (exit {result.returncode}): "
                f"{result.tail()}"
            )
        url = make_url(settings.database_url).set(database=name)
        engine = make_async_engine(url.render_as_string(hide_password=False), pool_size=1)

        async def physical() -> tuple[list[str], list[str], dict[str, Any]]:
            return await _amcheck(ctx, target, env)

        yield _Scratch(
            engine=engine,
            name=name,
            url=url.render_as_string(hide_password=False),
            restore_seconds=seconds,
            physical=physical,
        )
    finally:
        if engine is not None:
            await engine.dispose()
        try:
            await _admin(ctx, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except DBAPIError as exc:
            warnings.append(
                f"the scratch database {name} could not be dropped ({_first_line(exc.orig)}): "
                "drop it by hand"
            )


async def _amcheck(
    ctx: OpsContext, target: str, env: dict[str, str]
) -> tuple[list[str], list[str], dict[str, Any]]:
    try:
        tool = find_pg_tool("pg_amcheck", ctx.settings)
    except ToolMissing as exc:
        return [], [f"pages not checked: {exc.message}"], {"amcheck": "not found"}
    result = await run_tool(amcheck_argv(tool, target), env=env)
    output = f"{result.stdout}\n{result.stderr}"
    if result.returncode == 0:
        return [], [], {"amcheck": "ok"}
    if "permission denied" in output:
        return (
            [],
            [
                "pages not checked: pg_amcheck needs the amcheck extension and its functions, "
                f"which the database user may not use ({result.tail()})"
            ],
            {"amcheck": "permission denied"},
        )
    if result.returncode == 2:
        return [f"pg_amcheck found corruption: {result.tail()}"], [], {"amcheck": "corruption"}
    return [], [f"pg_amcheck could not run: {result.tail()}"], {"amcheck": "failed"}


@asynccontextmanager
async def _sqlite_scratch(
    ctx: OpsContext, backup: Backup, _warnings: list[str]
) -> AsyncIterator[_Scratch]:
    root = ctx.settings.backup_dir
    directory = Path(tempfile.mkdtemp(dir=root, prefix=VERIFY_PREFIX))
    scratch = directory / "scratch.sqlite3"
    engine: AsyncEngine | None = None
    try:
        started = time.perf_counter()
        try:
            # The same method as a real restore, so the time measured is the one to expect.
            await asyncio.to_thread(
                _sqlite_copy, backup.database_file, scratch, busy_timeout=1.0, single_file=False
            )
        except sqlite3.Error as exc:
            raise RestoreFailed(f"restoring into a scratch file failed: {exc}") from None
        seconds = round(time.perf_counter() - started, 3)
        engine = make_async_engine(f"sqlite:///{scratch.as_posix()}", busy_timeout_ms=1000)

        async def physical() -> tuple[list[str], list[str], dict[str, Any]]:
            rows = await asyncio.to_thread(_integrity_check, scratch)
            if rows == ["ok"]:
                return [], [], {"integrity_check": "ok"}
            shown_rows = "; ".join(rows[:QUOTED])
            return [f"PRAGMA integrity_check: {shown_rows}"], [], {"integrity_check": rows}

        yield _Scratch(
            engine=engine,
            name=str(scratch),
            url=f"sqlite:///{scratch.as_posix()}",
            restore_seconds=seconds,
            physical=physical,
        )
    finally:
        if engine is not None:
            await engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)


def _integrity_check(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [str(row[0]) for row in connection.execute("PRAGMA integrity_check(100)")]
    finally:
        connection.close()


# ======================================================================================== restore


@dataclass(slots=True)
class Restored:
    backup_id: str
    # None only when there was nothing to save: the SQLite file was gone (a disaster recovery).
    safety_backup_id: str | None
    seconds: float
    database_seconds: float
    files_restored: int
    files_unchanged: int
    files_removed: int
    rows: int
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "safety_backup_id": self.safety_backup_id,
            "seconds": self.seconds,
            "database_seconds": self.database_seconds,
            "files_restored": self.files_restored,
            "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed,
            "rows": self.rows,
            "warnings": list(self.warnings),
        }


async def restore_backup(ctx: OpsContext, backup_id: str, *, force: bool = False) -> Restored:
    """Replace the configured database and upload files with the backup's (safety copy first)."""
    root = ctx.settings.backup_dir
    with _plain_errors("the restore"), backup_lock(root):
        backup = find_backup(root, backup_id)
        _same_backend(ctx, backup, "restore")
        verified = backup.verified
        if verified is not None and not verified.get("ok") and not force:
            first = (verified.get("problems") or ["no reason recorded"])[0]
            raise Conflict(
                f"backup {backup.id} failed its last verification ({first}): restore another "
                "backup, or pass --force to restore it anyway"
            )
        damage = await asyncio.to_thread(_damage, backup)
        if damage:
            raise BackupFailed(
                f"backup {backup.id} is damaged, nothing was changed: "
                + "; ".join(damage[:QUOTED])
                + (f" (and {len(damage) - QUOTED} more)" if len(damage) > QUOTED else "")
            )
        warnings: list[str] = []
        safety_id: str | None = None
        if ctx.is_sqlite and not _live_sqlite_file(ctx).exists():
            warnings.append(
                f"no safety backup: the database file {_live_sqlite_file(ctx)} did not exist"
            )
        else:
            safety_id = (await _create(ctx, f"safety copy before restoring {backup.id}")).id
        before = f"the safety backup {safety_id}" if safety_id else "nothing"
        live_mode = await _live_maintenance_mode(ctx)
        started = time.perf_counter()
        try:
            if ctx.is_postgresql:
                extra = await _tables_not_in(ctx, backup)
                await _restore_postgres(ctx, backup)
                if extra:
                    warnings.append(
                        f"tables {', '.join(extra)} are not in the backup (taken before a "
                        "migration?) and were left as they were; the next migration may fail "
                        "on them: compare the schema with the backup's revision"
                    )
            else:
                await _restore_sqlite(ctx, backup)
        except BackupFailed as exc:
            raise BackupFailed(f"{exc.message}; {before} holds the state from before") from None
        database_seconds = round(time.perf_counter() - started, 3)
        try:
            restored, unchanged, removed = await asyncio.to_thread(
                restore_files, backup, uploads_root(ctx), ctx.settings.maint_backup_hardlink
            )
        except OSError as exc:
            raise BackupFailed(
                f"the database was restored but the upload files were not: {exc}; {before} "
                "holds the state from before"
            ) from None
        warnings += await _after_restore(ctx, backup)
        if live_mode is not None:
            warnings += await _keep_maintenance_mode(ctx, live_mode, backup.id)
        return Restored(
            backup_id=backup.id,
            safety_backup_id=safety_id,
            seconds=round(time.perf_counter() - started, 3),
            database_seconds=database_seconds,
            files_restored=restored,
            files_unchanged=unchanged,
            files_removed=removed,
            rows=backup.rows,
            warnings=warnings,
        )


async def _live_maintenance_mode(ctx: OpsContext) -> MaintenanceState | None:
    """The maintenance mode in force now, which a restore must not switch off (or on)."""
    if ctx.is_sqlite and not _live_sqlite_file(ctx).exists():
        return None
    try:
        return await SqlMaintenanceStore(ctx.engine).get()
    except Exception:  # an older schema, or a database too broken to read: nothing to keep
        return None


async def _keep_maintenance_mode(
    ctx: OpsContext, live: MaintenanceState, backup_id: str
) -> list[str]:
    """Put back the mode that was in force before the restore, and audit that."""
    now = ctx.clock.now()
    store = SqlMaintenanceStore(ctx.engine)
    try:
        restored = await store.get()
    except Exception as exc:
        return [f"could not read the maintenance mode after the restore: {exc}"]
    if replace(restored, updated_at=None) == replace(live, updated_at=None):
        return []
    audit = MaintenanceAudit(
        now,
        ctx.actor,
        "restore",
        f"maintenance mode kept across the restore of {backup_id}",
        {"enabled": live.active(now)},
    )
    try:
        await store.put(replace(live, updated_at=now), audit)
    except Exception as exc:
        return [f"could not put back the maintenance mode in force before the restore: {exc}"]
    return []


def _damage(backup: Backup) -> list[str]:
    """What is wrong with the backup's own files, before anything is replaced with them."""
    damage: list[str] = []
    expected = backup.manifest["database"]
    if not backup.database_file.is_file():
        damage.append(f"the database file {expected['file']} is missing")
    elif sha256_file(backup.database_file) != expected["sha256"]:
        damage.append(f"the database file {expected['file']} has the wrong sha256")
    for entry in backup.manifest["files"]["entries"]:
        path = backup.path / FILES_DIR / str(entry["path"])
        if not path.is_file():
            damage.append(f"file {FILES_DIR}/{entry['path']} is missing")
        elif sha256_file(path) != entry["sha256"]:
            damage.append(f"file {FILES_DIR}/{entry['path']} has the wrong sha256")
    return damage


async def _restore_postgres(ctx: OpsContext, backup: Backup) -> None:
    settings = ctx.settings
    pg_restore = find_pg_tool("pg_restore", settings)
    target, env = pg_target(settings.database_url)
    lock_ms = round(settings.maint_pg_lock_timeout_seconds * 1000)
    # Without a lock time-out a busy service would queue behind our DROPs, and every one of its
    # queries behind those: better to fail fast and say why.
    env["PGOPTIONS"] = f"-c lock_timeout={lock_ms}"
    argv = pg_restore_argv(pg_restore, target, backup.database_file, clean=True)
    result = await run_tool(argv, env=env)
    if result.returncode != 0:
        hint = ""
        if "lock timeout" in result.stderr:
            hint = (
                " (the service holds locks on the tables: stop it or start maintenance mode, "
                "then try again)"
            )
        raise BackupFailed(
            f"pg_restore failed (exit {result.returncode}), the database is unchanged (one "
            f"transaction){hint}: {result.tail()}"
        )


async def _restore_sqlite(ctx: OpsContext, backup: Backup) -> None:
    live = _live_sqlite_file(ctx)
    live.parent.mkdir(parents=True, exist_ok=True)
    busy = ctx.settings.db_busy_timeout_ms / 1000
    try:
        # The backup API run in reverse writes the live file inside one write transaction:
        # other connections (a running service) wait for it, then see the restored data.
        await asyncio.to_thread(
            _sqlite_copy, backup.database_file, live, busy_timeout=busy, single_file=False
        )
    except sqlite3.Error as exc:
        raise BackupFailed(f"restoring {live} failed, the database is unchanged: {exc}") from None


def restore_files(backup: Backup, live_root: Path, hardlink: bool) -> tuple[int, int, int]:
    """Make ``live_root`` hold exactly the backup's files; (restored, unchanged, removed)."""
    wanted = {str(e["path"]): e for e in backup.manifest["files"]["entries"]}
    restored = unchanged = removed = 0
    live_root.mkdir(parents=True, exist_ok=True)
    for relative, entry in wanted.items():
        source = backup.path / FILES_DIR / relative
        target = live_root / relative
        if target.is_file() and (
            os.path.samefile(source, target)
            or (
                target.stat().st_size == int(entry["size"])
                and sha256_file(target) == entry["sha256"]
            )
        ):
            unchanged += 1
            continue
        replace_file(source, target, hardlink=hardlink)
        restored += 1
    # Files the backup does not have belong to rows the restore removed (the safety backup
    # keeps them).
    for relative in stored_files(live_root):
        if relative not in wanted:
            (live_root / relative).unlink(missing_ok=True)
            removed += 1
    return restored, unchanged, removed


async def _tables_not_in(ctx: OpsContext, backup: Backup) -> list[str]:
    """Known tables the live database has and the backup does not (--clean leaves them)."""
    async with ctx.engine.connect() as connection:
        present = await present_tables(connection)
    return [t.name for t in present if t.name not in backup.manifest["tables"]]


async def _after_restore(ctx: OpsContext, backup: Backup) -> list[str]:
    """Compare the live database with the manifest: a running service may have written."""
    async with ctx.engine.connect() as base:
        options: dict[str, Any] = {}
        if ctx.is_postgresql:
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        connection = await base.execution_options(**options)
        async with connection.begin():
            found = await digests(connection)
    notes: list[str] = []
    differences = compare(backup.manifest["tables"], found)
    if differences:
        notes.append(
            "the live database differs from the backup after the restore (did the service "
            f"write meanwhile?): {'; '.join(differences[:QUOTED])}"
        )
    revision, head = backup.manifest.get("schema_revision"), head_revision()
    if revision != head:
        notes.append(
            f"the database is now at the backup's schema revision {revision}, this version "
            f"expects {head}: run `cv-evaluator migrate` (serve and worker do it on start "
            "when APP_MIGRATE_ON_START is true)"
        )
    return notes


# ========================================================================================== prune


@dataclass(slots=True)
class Pruned:
    dry_run: bool
    kept: list[dict[str, Any]]
    deleted: list[dict[str, Any]]
    leftovers: list[str]
    unreadable: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "kept": self.kept,
            "deleted": self.deleted,
            "deleted_bytes": sum(int(d["size_bytes"]) for d in self.deleted),
            "leftovers": self.leftovers,
            "unreadable": self.unreadable,
        }


def plan_prune(ctx: OpsContext, listing: Listing) -> Pruned:
    settings = ctx.settings
    keep = select_kept(
        [Candidate(b.id, b.created_at, b.verified_ok) for b in listing.backups],
        daily=settings.maint_backup_keep_daily,
        weekly=settings.maint_backup_keep_weekly,
        monthly=settings.maint_backup_keep_monthly,
        now=ctx.clock.now(),
    )
    kept = [
        {"id": b.id, "created_at": now_iso(b.created_at), "reasons": keep[b.id]}
        for b in reversed(listing.backups)
        if b.id in keep
    ]
    deleted = [
        {"id": b.id, "created_at": now_iso(b.created_at), "size_bytes": b.size_bytes}
        for b in reversed(listing.backups)
        if b.id not in keep
    ]
    return Pruned(
        dry_run=True,
        kept=kept,
        deleted=deleted,
        leftovers=[p.name for p in listing.leftovers],
        unreadable=listing.unreadable,
    )


async def prune_backups(ctx: OpsContext, *, dry_run: bool) -> Pruned:
    root = ctx.settings.backup_dir
    if dry_run:
        return plan_prune(ctx, await asyncio.to_thread(list_backups, root))
    with _plain_errors("pruning"), backup_lock(root):
        listing = await asyncio.to_thread(list_backups, root)
        plan = plan_prune(ctx, listing)

        def delete() -> None:
            for item in plan.deleted:
                shutil.rmtree(root / str(item["id"]))
            # Holding the lock, no backup or verification is in progress: these are debris of
            # ones that crashed.
            for leftover in listing.leftovers:
                shutil.rmtree(leftover, ignore_errors=True)

        await asyncio.to_thread(delete)
        plan.dry_run = False
        return plan


# ==================================================================================== task, check


def _verification_text(verification: Verification) -> str:
    if verification.ok:
        return f"verified: restore took {verification.rto_seconds} s (RTO)"
    shown_problems = "; ".join(verification.problems[:QUOTED])
    more = len(verification.problems) - QUOTED
    return f"verification FAILED: {shown_problems}" + (f" (and {more} more)" if more > 0 else "")


@task(
    "backup",
    description="Back up the database and the upload files, then verify the backup by restoring "
    "it into a scratch database",
)
async def backup_task(ctx: OpsContext, dry_run: bool) -> TaskOutcome:
    if dry_run:
        return await _plan_backup(ctx)
    backup = await create_backup(ctx, reason=f"maintenance task ({ctx.actor})")
    verification = await verify_backup(ctx, backup.id)
    recorded = await asyncio.to_thread(read_backup, backup.path)
    figures: dict[str, Any] = {**recorded.summary(), "warnings": verification.warnings}
    made = (
        f"created backup {backup.id} ({human_bytes(backup.size_bytes)}, {backup.rows} rows, "
        f"{backup.manifest['files']['count']} files) in {backup.path.parent}"
    )
    actions = [
        made,
        f"restored it into scratch {verification.checks.get('scratch', '')} and compared "
        f"{len(backup.manifest['tables'])} tables with the manifest",
        f"recorded the verification in {backup.path / MANIFEST}",
    ]
    status = TaskStatus.OK if verification.ok else TaskStatus.FAILED
    return TaskOutcome(status, f"{made}; {_verification_text(verification)}", figures, actions)


async def _plan_backup(ctx: OpsContext) -> TaskOutcome:
    settings = ctx.settings
    root = settings.backup_dir
    files = await asyncio.to_thread(stored_files, uploads_root(ctx))
    file_bytes = await asyncio.to_thread(
        lambda: sum((uploads_root(ctx) / f).stat().st_size for f in files)
    )
    tmp = root / f"{TMP_PREFIX}bkp_ULID"
    how = "hard-link (copy across filesystems)" if settings.maint_backup_hardlink else "copy"
    actions: list[str] = []
    problems: list[str] = []
    if ctx.is_postgresql:
        target, _env = pg_target(settings.database_url)
        scratch = f"{SCRATCH_DB_PREFIX}RANDOM"
        scratch_target, _env = pg_target(settings.database_url, scratch)
        lock_ms = round(settings.maint_pg_lock_timeout_seconds * 1000)
        tools: dict[str, str | Path] = {}
        for name in ("pg_dump", "pg_restore", "pg_amcheck"):
            try:
                tools[name] = find_pg_tool(name, settings)
            except ToolMissing as exc:
                tools[name] = name
                if name != "pg_amcheck":  # without it verify only warns: pages not checked
                    problems.append(exc.message)
        actions += [
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()",
            "read every row of "
            + ", ".join(t.name for t in metadata.sorted_tables)
            + " in that snapshot: rows counted and checksummed",
            shown(pg_dump_argv(tools["pg_dump"], "SNAPSHOT", lock_ms, tmp / PG_DUMP_FILE, target)),
        ]
        dump = root / "bkp_ULID" / PG_DUMP_FILE
        verify_steps = [
            f'CREATE DATABASE "{scratch}" TEMPLATE template0',
            shown(pg_restore_argv(tools["pg_restore"], scratch_target, dump, clean=False)),
            shown(amcheck_argv(tools["pg_amcheck"], scratch_target)),
            f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)',
        ]
    else:
        live = _live_sqlite_file(ctx)
        actions.append(
            f"copy {live} to {tmp / SQLITE_FILE} with the SQLite online backup API, then count "
            "and checksum the rows of the copy"
        )
        verify_steps = [
            f"copy {root / 'bkp_ULID' / SQLITE_FILE} to a scratch file with the backup API, "
            "PRAGMA integrity_check, then delete the scratch file"
        ]
    actions += [
        f"{how} {len(files)} files ({human_bytes(file_bytes)}) from {uploads_root(ctx)} to "
        f"{tmp / FILES_DIR}, with their sha256",
        f"write {tmp / MANIFEST} and rename {tmp.name} to bkp_ULID",
        *verify_steps,
        "compare row counts and checksums with the manifest, look for broken references, "
        "check every file's sha256, record the outcome and the restore time in the manifest",
    ]
    figures = {
        "backup_dir": str(root),
        "backend": backend_of(ctx),
        "files": len(files),
        "file_bytes": file_bytes,
        "hardlink": settings.maint_backup_hardlink,
        "problems": problems,
    }
    summary = (
        f"would back up the {backend_of(ctx)} database and {len(files)} files "
        f"({human_bytes(file_bytes)}) into {root}, then verify the backup in a scratch copy"
    )
    if problems:
        summary += f"; it would fail: {'; '.join(problems)}"
    return TaskOutcome(TaskStatus.PLANNED, summary, figures, actions)


def _age_text(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@check(
    "backup.age",
    group=GROUP,
    description="Age of the newest verified backup of this database (the recovery point)",
)
async def backup_age(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_backup_max_age_hours", "warn above", "h")
    default = type(ctx.settings).model_fields["maint_backup_max_age_hours"].default
    critical = Threshold(
        label="critical above",
        value=CRITICAL_AGE_FACTOR * ctx.settings.maint_backup_max_age_hours,
        unit="h",
        setting=f"{CRITICAL_AGE_FACTOR} × MAINT_BACKUP_MAX_AGE_HOURS",
        default=CRITICAL_AGE_FACTOR * float(default),
    )
    thresholds = [warn, critical]
    root = ctx.settings.backup_dir
    listing = await asyncio.to_thread(list_backups, root)
    backend = backend_of(ctx)
    mine = listing.of_backend(backend)
    verified = listing.verified(backend)
    now = ctx.clock.now()
    details: dict[str, Any] = {
        "backup_dir": str(root),
        "backend": backend,
        "backups": len(mine),
        "verified_backups": len(verified),
        "newest_verified_age_seconds": None,
        "unreadable": listing.unreadable,
    }
    failed_note = ""
    if mine:
        newest = mine[-1]
        details["newest_backup_id"] = newest.id
        details["newest_backup_age_seconds"] = round((now - newest.created_at).total_seconds(), 1)
        last = newest.verified
        if last is not None and not last.get("ok"):
            problems = last.get("problems") or ["no reason recorded"]
            details["newest_backup_problems"] = problems
            failed_note = f"; the newest backup {newest.id} FAILED verification: {problems[0]}"
    if not verified:
        state = f"{len(mine)} backups, none verified" if mine else "none taken"
        return Outcome(
            Status.CRITICAL,
            f"no verified backup of the {backend} database in {root} ({state}){failed_note}: "
            "run `cv-evaluator maint backup create --verify`",
            details,
            thresholds,
        )
    best = verified[-1]
    age = (now - best.created_at).total_seconds()
    best_verification = best.verified or {}
    details.update(
        newest_verified_id=best.id,
        newest_verified_created_at=now_iso(best.created_at),
        newest_verified_age_seconds=round(age, 1),
        newest_verified_at=best_verification.get("at"),
        newest_verified_rto_seconds=best_verification.get("rto_seconds"),
    )
    status = above(age / 3600, warn, critical)
    text = f"newest verified backup {best.id} is {_age_text(age)} old"
    if status is Status.OK:
        summary = (
            f"{text} (restore measured at {best_verification.get('rto_seconds')} s){failed_note}"
        )
    else:
        limit = critical if status is Status.CRITICAL else warn
        summary = (
            f"{text}, above {limit.value:g} h: backups are not being taken or not verified; "
            f"check `cv-evaluator maint backup list` and the backup task's runs{failed_note}"
        )
    return Outcome(status, summary, details, thresholds)
