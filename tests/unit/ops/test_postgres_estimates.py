"""The arithmetic behind the PostgreSQL bloat, duplicate-index and autovacuum judgements."""

from __future__ import annotations

import dataclasses

import pytest

from cv_evaluator.ops.checks.postgres_estimates import (
    AutovacuumRule,
    IndexShape,
    RelationStats,
    align,
    btree_bloat,
    covers,
    duplicate_indexes,
    missing_stats,
    parse_reloptions,
    table_bloat,
    table_rule,
)

BLOCK = 8192


def test_align_rounds_up_to_the_boundary() -> None:
    assert [align(v, 8) for v in (0, 1, 8, 9, 23.2, 24)] == [0, 8, 8, 16, 24, 24]


def table(**changes: object) -> RelationStats:
    # Two int columns and a ~10-byte text: rows of 24 (header) + 24 (data) + 4 (line pointer),
    # so (8192 - 24) // 52 = 157 rows fit a page.
    base = RelationStats(
        pages=32, tuples=5000, columns=3, columns_with_stats=3, data_width=18.0, has_nulls=False
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_compact_table_wastes_nothing() -> None:
    estimate = table_bloat(table(), BLOCK)
    assert estimate.expected_pages == 32  # ceil(5000 / 157)
    assert estimate.wasted_pages == 0
    assert estimate.wasted_ratio == 0.0


def test_a_table_five_times_its_size_is_mostly_waste() -> None:
    estimate = table_bloat(table(pages=160), BLOCK)
    assert estimate.wasted_pages == 128
    assert estimate.wasted_ratio == pytest.approx(0.8)


def test_fillfactor_leaves_room_that_is_not_waste() -> None:
    # At fillfactor 50 only 78 rows go in a page: 5000 rows need 65 pages.
    assert table_bloat(table(pages=65, fillfactor=50), BLOCK).wasted_pages == 0
    assert table_bloat(table(pages=65), BLOCK).wasted_pages == 33


def test_a_null_bitmap_widens_the_row_header() -> None:
    wide = table_bloat(table(has_nulls=True, columns=9), BLOCK)
    narrow = table_bloat(table(has_nulls=False, columns=9), BLOCK)
    assert wide.expected_pages > narrow.expected_pages


def test_an_empty_table_with_pages_is_all_waste() -> None:
    estimate = table_bloat(table(pages=10, tuples=0, columns_with_stats=0), BLOCK)
    assert estimate.wasted_ratio == 1.0


def test_btree_counts_its_metapage_and_fillfactor() -> None:
    # int4 keys: 8 + 4 -> 16 bytes + 4 line pointer; (8192 - 40) * 0.9 // 20 = 366 per page.
    index = RelationStats(
        pages=15, tuples=5000, columns=1, columns_with_stats=1, data_width=4.0, has_nulls=False
    )
    estimate = btree_bloat(index, BLOCK)
    assert estimate.expected_pages == 1 + 14
    assert estimate.wasted_pages == 0
    assert btree_bloat(dataclasses.replace(index, pages=60), BLOCK).wasted_ratio == 0.75


def test_statistics_are_required_when_there_are_rows() -> None:
    assert missing_stats(table(tuples=-1))  # never analyzed
    assert missing_stats(table(columns_with_stats=2))  # a column without pg_stats row
    assert not missing_stats(table())
    assert not missing_stats(table(tuples=0, columns_with_stats=0))


def index(name: str, *keys: int, **changes: object) -> IndexShape:
    base = IndexShape(
        name=name,
        table="public.t",
        method="btree",
        key_columns=keys,
        include_columns=(),
        opclasses=tuple(1978 for _ in keys),
        collations=tuple(0 for _ in keys),
        expressions=None,
        predicate=None,
        unique=False,
        primary=False,
        valid=True,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_leading_prefix_is_covered() -> None:
    a, ab = index("t_a", 1), index("t_a_b", 1, 2)
    assert covers(ab, a)
    assert not covers(a, ab)
    assert not covers(index("t_b_a", 2, 1), a)  # not leading
    assert duplicate_indexes([a, ab]) == [(a, ab)]


@pytest.mark.parametrize(
    "changes",
    [
        {"predicate": "(a > 0)"},
        {"expressions": "lower(b)"},
        {"method": "hash"},
        {"table": "public.other"},
        {"opclasses": (3128, 1978)},
        {"collations": (950, 0)},
    ],
)
def test_a_different_index_does_not_cover(changes: dict[str, object]) -> None:
    narrow = index("t_a", 1)
    wide = index("t_a_b", 1, 2, **changes)
    assert not covers(wide, narrow)
    assert duplicate_indexes([narrow, wide]) == []


def test_unique_and_primary_indexes_are_never_redundant_but_may_cover() -> None:
    unique_a = index("t_a_unique", 1, unique=True)
    pkey = index("t_pkey", 1, primary=True, unique=True)
    ab = index("t_a_b", 1, 2)
    assert duplicate_indexes([unique_a, ab]) == []
    assert duplicate_indexes([pkey, unique_a]) == []
    plain = index("t_a", 1)
    assert duplicate_indexes([plain, unique_a]) == [(plain, unique_a)]


def test_identical_indexes_are_reported_once() -> None:
    first, second = index("t_a_1", 1), index("t_a_2", 1)
    assert duplicate_indexes([first, second]) == [(second, first)]
    assert duplicate_indexes([second, first]) == [(second, first)]


def test_invalid_indexes_are_left_to_their_own_check() -> None:
    assert duplicate_indexes([index("t_a", 1), index("t_a_b", 1, 2, valid=False)]) == []
    assert duplicate_indexes([index("t_a", 1, valid=False), index("t_a_b", 1, 2)]) == []


def test_included_columns_must_be_kept_by_the_covering_index() -> None:
    narrow = index("t_a_inc_c", 1, include_columns=(3,))
    assert not covers(index("t_a_b", 1, 2), narrow)
    assert covers(index("t_a_c", 1, 3), narrow)
    assert covers(index("t_a_b_inc_c", 1, 2, include_columns=(3,)), narrow)


def test_autovacuum_rule_with_table_overrides() -> None:
    defaults = AutovacuumRule(threshold=50, scale_factor=0.2)
    assert defaults.limit(1000) == 250
    assert defaults.limit(-1) == 50  # never analyzed: no rows known
    options = parse_reloptions(
        ["autovacuum_vacuum_scale_factor=0.01", "fillfactor=90", "autovacuum_enabled=false"]
    )
    assert options["autovacuum_enabled"] == "false"
    rule = table_rule(defaults, options, "autovacuum_vacuum")
    assert rule == AutovacuumRule(threshold=50, scale_factor=0.01)
    assert table_rule(defaults, options, "autovacuum_analyze") == defaults
    assert parse_reloptions(None) == {}
