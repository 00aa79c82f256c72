"""The migrations produce exactly the schema the code declares, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cv_evaluator.config import Settings
from cv_evaluator.storage.engine import make_sync_engine
from cv_evaluator.storage.migrate import current_revision, head_revision, upgrade
from cv_evaluator.storage.tables import metadata


def test_migrations_match_the_declared_tables(settings: Settings) -> None:
    assert upgrade(settings.database_url) == head_revision()
    engine = make_sync_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(settings: Settings) -> None:
    first = upgrade(settings.database_url)
    assert upgrade(settings.database_url) == first
