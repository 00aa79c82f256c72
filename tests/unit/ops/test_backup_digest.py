"""The pure parts of backups: canonical row hashes, manifest comparison, libpq targets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cv_evaluator.ops.backup_digest import TableDigest, compare, row_hash
from cv_evaluator.ops.backup_store import human_bytes
from cv_evaluator.ops.backup_tools import pg_target


def test_a_row_hash_depends_on_values_not_on_key_or_json_order() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    one = {"id": "job_1", "created_at": at, "document": {"a": 1, "b": [1, 2]}, "score": 0.75}
    same = {"score": 0.75, "document": {"b": [1, 2], "a": 1}, "created_at": at, "id": "job_1"}
    assert row_hash(one) == row_hash(same)
    assert row_hash(one) != row_hash({**one, "score": 0.7500001})
    assert row_hash(one) != row_hash({**one, "document": {"a": 1, "b": [2, 1]}})
    # The same value under another column is another row.
    assert row_hash({"a": 1, "b": None}) != row_hash({"a": None, "b": 1})
    assert row_hash({"n": Decimal("1.50"), "raw": b"\x00\xff"}) == row_hash(
        {"raw": b"\x00\xff", "n": Decimal("1.50")}
    )


def test_a_value_without_a_canonical_form_is_refused() -> None:
    with pytest.raises(TypeError):
        row_hash({"x": object()})


def test_compare_names_the_table_and_the_kind_of_difference() -> None:
    manifest: dict[str, dict[str, Any]] = {
        "jobs": {"rows": 3, "checksum": "a" * 64},
        "results": {"rows": 2, "checksum": "b" * 64},
        "uploads": {"rows": 6, "checksum": "c" * 64},
        "callbacks": {"rows": 0, "checksum": "0" * 64},
    }
    found = {
        "jobs": TableDigest(3, "a" * 64),
        "results": TableDigest(2, "d" * 64),
        "uploads": TableDigest(5, "c" * 64),
        "extra": TableDigest(1, "e" * 64),
    }
    assert compare(manifest, found) == [
        "checksum mismatch in table results (2 rows)",
        "row count mismatch in table uploads: 5 restored, 6 in the manifest",
        "table callbacks is missing from the restored copy",
        "table extra is in the restored copy but not in the manifest",
    ]
    same = {name: TableDigest(t["rows"], t["checksum"]) for name, t in manifest.items()}
    assert compare(manifest, same) == []


def test_the_password_travels_in_the_environment_never_in_the_command() -> None:
    target, env = pg_target("postgresql+psycopg://app:s3cret@db.internal:5433/app?sslmode=require")
    assert target == "postgresql://app@db.internal:5433/app?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret"
    scratch, _ = pg_target("postgresql+psycopg://app@db:5432/app", "cv_verify_1")
    assert scratch == "postgresql://app@db:5432/cv_verify_1"
    assert "PGPASSWORD" not in pg_target("postgresql://app@db/app")[1]


def test_human_bytes() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024**4) == "3.0 TiB"
