"""The settings list drives the docs: an undocumented or stale setting fails the build."""

from __future__ import annotations

from pathlib import Path

from cv_evaluator.cli import render_settings_markdown
from cv_evaluator.config import Settings, setting_docs

ROOT = Path(__file__).resolve().parents[3]


def test_every_setting_has_help_text() -> None:
    for env, _default, help_text in setting_docs():
        assert help_text.strip(), f"{env} has no help text"


def test_configuration_doc_is_generated_from_the_settings() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert render_settings_markdown() in doc, (
        "docs/configuration.md is stale: paste the output of `cv-evaluator config docs`"
    )


def test_every_setting_is_named_in_the_docs() -> None:
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in docs, f"{name.upper()} is not documented"


def test_environment_variables_are_grouped_by_prefix() -> None:
    prefixes = {
        "DB",
        "QUEUE",
        "AI",
        "APP",
        "DATA",
        "MAX",
        "JOB",
        "WORKER",
        "READY",
        "LOG",
        "ADMIN",
        "KAFKA",
        "MAINT",
        "OTEL",  # OpenTelemetry's own standard names
    }
    for env, _default, _help in setting_docs():
        assert env.split("_", 1)[0] in prefixes, env
