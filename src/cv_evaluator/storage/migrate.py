"""Apply and inspect schema migrations (Alembic, driven from code: no alembic.ini to find)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from cv_evaluator.storage.engine import make_sync_engine


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("cv_evaluator.storage") / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> str:
    """Bring the database at ``url`` to ``revision``; returns the revision it is at afterwards."""
    engine = make_sync_engine(url)
    try:
        config = _config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        current = current_revision(engine)
    finally:
        engine.dispose()
    return current or ""
