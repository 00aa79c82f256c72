"""The PostgreSQL client programs backups use, found and run without a shell.

Where they come from, in order: ``MAINT_PG_BIN_DIR`` when set (nothing else is tried, so an
operator who pins a version gets that version or a clear error), then ``PATH``, then the newest
``/usr/lib/postgresql/<major>/bin`` (Debian and Ubuntu keep the versioned programs there and put
only some of them on ``PATH``: ``pg_amcheck`` is usually missing).

Passwords never appear on a command line (other users can read it in ``ps``): the programs get a
libpq URI without the password and the password in ``PGPASSWORD``.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from cv_evaluator.config import Settings
from cv_evaluator.domain.errors import CvEvaluatorError, ErrorCode

VERSIONED_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# Lines of a failed program's standard error quoted in the message: the cause is at the end.
QUOTED_LINES = 5


class BackupFailed(CvEvaluatorError):
    """A backup, verification or restore could not be done; the message says why."""

    code = ErrorCode.INTERNAL


class ToolMissing(BackupFailed):
    pass


@dataclass(frozen=True, slots=True)
class ToolResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def tail(self) -> str:
        lines = [line for line in (self.stderr or self.stdout).strip().splitlines() if line]
        return " | ".join(lines[-QUOTED_LINES:]) if lines else "no output"


def _major(bindir: str) -> tuple[int, ...]:
    name = Path(bindir).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit()) or (0,)


def find_pg_tool(name: str, settings: Settings) -> Path:
    """Where the program ``name`` is; ToolMissing with what to do when it is nowhere."""
    if settings.maint_pg_bin_dir is not None:
        pinned = settings.maint_pg_bin_dir / name
        if pinned.is_file() and os.access(pinned, os.X_OK):
            return pinned
        raise ToolMissing(f"{name} not found in MAINT_PG_BIN_DIR={settings.maint_pg_bin_dir}")
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    for bindir in sorted(glob.glob(VERSIONED_BIN_GLOB), key=_major, reverse=True):
        candidate = Path(bindir) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ToolMissing(
        f"{name} not found on PATH nor in {VERSIONED_BIN_GLOB}: install the PostgreSQL client "
        "programs (Debian: postgresql-client) or set MAINT_PG_BIN_DIR"
    )


def pg_target(database_url: str, database: str | None = None) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``database_url`` (optionally another database) and the environment.

    The URI has no password; it travels in ``PGPASSWORD`` instead.
    """
    url: URL = make_url(database_url)
    if database is not None:
        url = url.set(database=database)
    password = url.password
    # URL.set(password=None) would keep the password: None there means "unchanged".
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    env = {"PGCONNECT_TIMEOUT": "10"}
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return plain.render_as_string(hide_password=False), env


async def run_tool(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> ToolResult:
    """Run a program to completion; the process is killed if the caller is cancelled."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
    except OSError as exc:
        raise BackupFailed(f"cannot run {argv[0]}: {exc}") from None
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        raise BackupFailed(f"{Path(argv[0]).name} did not finish within {timeout:g} s") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return ToolResult(
        argv=[str(a) for a in argv],
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
    )


async def tool_version(path: Path) -> str:
    result = await run_tool([str(path), "--version"], timeout=30)
    return result.stdout.strip() or result.tail()


def shown(argv: Sequence[str]) -> str:
    """A command as an operator would type it (for actions and error messages)."""
    return " ".join(_quote(str(a)) for a in argv)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_=./:@%+,?&" for c in arg) else repr(arg)
