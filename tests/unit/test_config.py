from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cv_evaluator.config import Settings, mask_url_password


def test_data_dir_alone_gives_a_separate_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "one"))
    assert Settings().database_url == f"sqlite:///{tmp_path}/one/app.db"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PORT", "9000")
    monkeypatch.setenv("MAX_UPLOAD_MB", "2")
    settings = Settings()
    assert settings.app_port == 9000
    assert settings.max_upload_bytes == 2 * 1024 * 1024


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PORT", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_passwords_in_urls_are_masked() -> None:
    assert (
        mask_url_password("postgresql+psycopg://app:s3cret@db/app")
        == "postgresql+psycopg://app:***@db/app"
    )
    assert mask_url_password("sqlite:///data/app.db") == "sqlite:///data/app.db"
    settings = Settings(db_url="postgresql://u:p@h/app")
    assert settings.effective()["DB_URL"] == "postgresql://u:***@h/app"
