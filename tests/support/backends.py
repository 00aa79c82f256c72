"""Which database engines the suites run on, and how a test gets a fresh database on each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tests.support.postgres import PostgresServer

BACKENDS = ("sqlite", "postgresql")


class Databases:
    """Hands out fresh, migrated databases; starts PostgreSQL on first need, once per session."""

    def __init__(self) -> None:
        self._postgres: PostgresServer | None = None

    def postgres(self) -> PostgresServer:
        if self._postgres is None:
            server = PostgresServer()
            server.start()
            server.build_template()
            self._postgres = server
        return self._postgres

    def migrated_url(self, backend: str, data_dir: Path) -> str:
        if backend == "sqlite":
            return f"sqlite:///{(data_dir / 'app.db').as_posix()}"
        return self.postgres().new_database()

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.stop()


def session_databases() -> Iterator[Databases]:
    databases = Databases()
    try:
        yield databases
    finally:
        databases.close()
