"""When VACUUM on SQLite is worth its write lock."""

from __future__ import annotations

from cv_evaluator.ops.tasks.database import (
    SqliteFile,
    VacuumDecision,
    human_bytes,
    join_sql,
    vacuum_decision,
)

GIB = 1024**3


def _file(free_pages: int, pages: int = 1000) -> SqliteFile:
    return SqliteFile(
        page_size=4096,
        page_count=pages,
        freelist_count=free_pages,
        file_bytes=pages * 4096,
        wal_bytes=0,
    )


def test_vacuum_runs_only_above_the_free_page_ratio() -> None:
    assert vacuum_decision(_file(250), 0.25, GIB) == VacuumDecision(
        False,
        "VACUUM skipped: only 25% reclaimable (runs above 25%, MAINT_SQLITE_FREELIST_WARN_RATIO)",
    )
    assert vacuum_decision(_file(251), 0.25, GIB) == VacuumDecision(True)
    assert vacuum_decision(_file(0, pages=0), 0.25, GIB).run is False


def test_vacuum_needs_room_for_a_copy_of_the_database() -> None:
    state = _file(200_000, pages=1024 * 256)  # a 1 GiB file, three quarters free pages
    assert vacuum_decision(state, 0.25, free_disk_bytes=GIB) == VacuumDecision(
        False,
        "VACUUM not run: it needs about 2.0 GiB free next to the database, only 1.0 GiB free",
        lacks_space=True,
    )
    assert vacuum_decision(state, 0.25, free_disk_bytes=3 * GIB) == VacuumDecision(True)


def test_sizes_read_like_a_person_would_write_them() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**2) == "5.0 MiB"
    assert human_bytes(3 * 1024**4) == "3072.0 GiB"


def test_sql_fragments_join_without_stray_spaces() -> None:
    assert join_sql("SELECT 1 FROM t WHERE x IN (", "SELECT y FROM u", ")", "") == (
        "SELECT 1 FROM t WHERE x IN (SELECT y FROM u)"
    )
