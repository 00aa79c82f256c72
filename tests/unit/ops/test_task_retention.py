"""retention's pure parts: batch pacing and the statements it runs."""

from __future__ import annotations

import pytest

from cv_evaluator.ops.tasks.retention import TARGET_BATCH_SECONDS, Pacer, retention_sql

ELIGIBLE = "jobs.status IN ('completed', 'failed') AND COALESCE(jobs.finished_at, jobs.created_at)"


def test_a_slow_batch_halves_the_next_and_quick_ones_grow_it_back_to_the_setting() -> None:
    pacer = Pacer(configured=500)
    pacer.record(TARGET_BATCH_SECONDS + 0.01)
    assert pacer.size == 250
    pacer.record(TARGET_BATCH_SECONDS * 2)
    assert pacer.size == 125
    pacer.record(TARGET_BATCH_SECONDS / 2)  # neither slow nor quick: kept
    assert pacer.size == 125
    for expected in (250, 500, 500):
        pacer.record(0.001)
        assert pacer.size == expected
    assert pacer.batches == 6
    assert pacer.longest_seconds == TARGET_BATCH_SECONDS * 2


def test_the_batch_never_shrinks_below_one() -> None:
    pacer = Pacer(configured=2)
    for _ in range(4):
        pacer.shrink()
    assert pacer.size == 1


@pytest.mark.parametrize("sqlite", [True, False])
def test_every_delete_repeats_the_eligibility_condition(sqlite: bool) -> None:
    sql = retention_sql(sqlite=sqlite)
    for statement in (sql.delete_callbacks, sql.delete_results, sql.delete_jobs):
        assert ELIGIBLE in statement
        assert ":ids" in statement and ":cutoff" in statement
    assert sql.delete_uploads.startswith("DELETE FROM uploads WHERE uploads.id IN :ids AND ")
    assert "uploads.created_at < :cutoff" in sql.delete_uploads
    assert sql.delete_uploads.endswith("RETURNING uploads.id, uploads.storage_key")
    # Children before their jobs, within one batch.
    deletes = [s for s in sql.deletes if s.startswith("DELETE")]
    assert [s.split()[2] for s in deletes] == ["callbacks", "results", "jobs", "uploads"]


def test_postgresql_locks_the_batch_and_sqlite_walks_the_primary_key() -> None:
    postgres, sqlite = retention_sql(sqlite=False), retention_sql(sqlite=True)
    assert postgres.lock_jobs is not None and postgres.lock_jobs.endswith("FOR UPDATE")
    assert sqlite.lock_jobs is None
    assert "+jobs.status IN" in sqlite.select_jobs
    assert "+jobs.status" not in postgres.select_jobs
    assert "NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.cv_id = uploads.id)" in (
        postgres.select_uploads
    )
    assert "uploads.id NOT IN (SELECT jobs.cv_id FROM jobs)" in sqlite.select_uploads
