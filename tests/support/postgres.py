"""A throwaway PostgreSQL server from the machine's binaries, for tests and benchmarks.

The schema is built once in a template database; every test gets its own copy with
``CREATE DATABASE … TEMPLATE …``, which takes milliseconds.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

from cv_evaluator.storage.migrate import upgrade
from tests.support.processes import free_port

TEMPLATE = "app_template"


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The newest installed server's bin directory (Debian keeps them off PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; install Debian's 'postgresql' package "
        "(scripts/ensure-test-services installs it)"
    )


def _major_version(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


class PostgresServer:
    def __init__(self, options: Sequence[str] = ()) -> None:
        # Extra server settings, e.g. "shared_preload_libraries=pg_stat_statements".
        self.bindir = find_bindir()
        self._extra = "".join(f" -c {option}" for option in options)
        self.root = Path(tempfile.mkdtemp(prefix="cv-eval-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # initdb refuses to run as root; the Debian package provides a 'postgres' user.
        self._as_user = os.geteuid() == 0
        self.url_base = f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_user:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        if self._as_user:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            f"{self._extra}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        self._wait_ready()

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), *args)

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"{self.url_base}/{database}"

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql)

    def build_template(self) -> None:
        self._admin(f"CREATE DATABASE {TEMPLATE}")
        upgrade(self.sqlalchemy_url(TEMPLATE))

    def new_database(self) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.sqlalchemy_url(name)

    def empty_database(self) -> str:
        name = f"empty_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name}")
        return self.sqlalchemy_url(name)

    def pause(self) -> None:
        """Stop the server but keep its data, as an outage would."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def resume(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off{self._extra}"
        )
        self._pg_ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")
        self._wait_ready()

    def stop(self) -> None:
        try:
            self._pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
