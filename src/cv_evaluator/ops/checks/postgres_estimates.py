"""Pure reasoning behind some PostgreSQL checks: bloat estimates, covered indexes, autovacuum.

Kept free of I/O so the arithmetic can be tested on its own; the SQL that feeds it lives in
``postgres.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PAGE_HEADER_BYTES = 24
LINE_POINTER_BYTES = 4
HEAP_TUPLE_HEADER_BYTES = 23
INDEX_TUPLE_HEADER_BYTES = 8
# A B-tree index tuple with a NULL carries a fixed-size bitmap (INDEX_MAX_KEYS bits).
INDEX_NULL_BITMAP_BYTES = 4
BTREE_SPECIAL_BYTES = 16
BTREE_DEFAULT_FILLFACTOR = 90
HEAP_DEFAULT_FILLFACTOR = 100


def align(value: float, alignment: int) -> int:
    """Round up to the next multiple of ``alignment`` (MAXALIGN)."""
    whole = math.ceil(value)
    return ((whole + alignment - 1) // alignment) * alignment


@dataclass(frozen=True, slots=True)
class RelationStats:
    """What the catalogue knows about a table or an index, as of its last VACUUM or ANALYZE."""

    pages: int  # pg_class.relpages
    tuples: float  # pg_class.reltuples (-1: never vacuumed or analyzed)
    columns: int  # attributes the estimate needs
    columns_with_stats: int  # of those, how many pg_stats describes
    data_width: float  # sum of (1 - null_frac) * avg_width over the described columns
    has_nulls: bool
    fillfactor: int | None = None  # from reloptions; None means the access method's default


@dataclass(frozen=True, slots=True)
class BloatEstimate:
    expected_pages: int
    wasted_pages: int
    wasted_ratio: float


def missing_stats(stats: RelationStats) -> bool:
    """An estimate without a row count, or without every column's width, would be invented.

    An analyzed empty relation has no column statistics and needs none: all its pages (beyond
    an index's metapage) are waste.
    """
    if stats.tuples < 0:
        return True
    return stats.tuples > 0 and stats.columns_with_stats < stats.columns


def table_bloat(stats: RelationStats, block_size: int, max_align: int = 8) -> BloatEstimate:
    """Heap pages the live rows need (at the table's fillfactor) against the pages it has.

    The statistics-based estimate of check_postgres and pgexperts: a row is its header (with a
    NULL bitmap when some column is NULL), its average data width, and a line pointer. TOAST
    is left out: ``avg_width`` of a toasted value is the width of its pointer in the heap.
    """
    bitmap = (stats.columns + 7) // 8 if stats.has_nulls else 0
    row = align(HEAP_TUPLE_HEADER_BYTES + bitmap, max_align) + align(stats.data_width, max_align)
    fillfactor = stats.fillfactor or HEAP_DEFAULT_FILLFACTOR
    usable = (block_size - PAGE_HEADER_BYTES) * fillfactor / 100
    rows_per_page = max(1, math.floor(usable / (row + LINE_POINTER_BYTES)))
    expected = math.ceil(max(stats.tuples, 0) / rows_per_page)
    return _estimate(stats.pages, expected)


def btree_bloat(stats: RelationStats, block_size: int, max_align: int = 8) -> BloatEstimate:
    """Leaf pages a B-tree needs for its entries (at its fillfactor, plus the metapage)."""
    header = INDEX_TUPLE_HEADER_BYTES + (INDEX_NULL_BITMAP_BYTES if stats.has_nulls else 0)
    entry = align(header + stats.data_width, max_align) + LINE_POINTER_BYTES
    fillfactor = stats.fillfactor or BTREE_DEFAULT_FILLFACTOR
    usable = (block_size - PAGE_HEADER_BYTES - BTREE_SPECIAL_BYTES) * fillfactor / 100
    entries_per_page = max(1, math.floor(usable / entry))
    expected = 1 + math.ceil(max(stats.tuples, 0) / entries_per_page)
    return _estimate(stats.pages, expected)


def _estimate(pages: int, expected: int) -> BloatEstimate:
    wasted = max(0, pages - expected)
    return BloatEstimate(
        expected_pages=expected,
        wasted_pages=wasted,
        wasted_ratio=(wasted / pages) if pages > 0 else 0.0,
    )


@dataclass(frozen=True, slots=True)
class IndexShape:
    """An index as the duplicate rule sees it (pg_index, one row per index)."""

    name: str
    table: str  # schema-qualified
    method: str
    key_columns: tuple[int, ...]  # attnums of the key columns, 0 for an expression
    include_columns: tuple[int, ...]  # INCLUDE (...) columns
    opclasses: tuple[int, ...]  # one per key column
    collations: tuple[int, ...]  # one per key column
    expressions: str | None
    predicate: str | None
    unique: bool
    primary: bool
    valid: bool


def covers(wide: IndexShape, narrow: IndexShape) -> bool:
    """Whether every lookup ``narrow`` serves, ``wide`` serves as well (pghero's rule).

    Same table, same access method, same expressions and the same predicate, and ``narrow``'s
    key columns (with their operator classes and collations) are a leading prefix of ``wide``'s.
    A partial index is only interchangeable with one of the same predicate.
    """
    if wide.table != narrow.table or wide.method != narrow.method:
        return False
    if wide.expressions != narrow.expressions or wide.predicate != narrow.predicate:
        return False
    size = len(narrow.key_columns)
    if size > len(wide.key_columns):
        return False
    if (
        wide.key_columns[:size] != narrow.key_columns
        or wide.opclasses[:size] != narrow.opclasses
        or wide.collations[:size] != narrow.collations
    ):
        return False
    # An index-only scan on the narrow index must stay possible on the wide one.
    return set(narrow.include_columns) <= {*wide.key_columns, *wide.include_columns}


def duplicate_indexes(indexes: Sequence[IndexShape]) -> list[tuple[IndexShape, IndexShape]]:
    """Pairs (redundant, covering): the redundant index can be dropped in favour of the other.

    A unique or primary-key index is never redundant (it enforces something). Of two identical
    plain indexes only one is reported, the one whose name sorts last.
    """
    pairs: list[tuple[IndexShape, IndexShape]] = []
    for narrow in indexes:
        if not narrow.valid or narrow.unique or narrow.primary:
            continue
        for wide in indexes:
            if wide is narrow or not wide.valid or not covers(wide, narrow):
                continue
            identical = (
                wide.key_columns == narrow.key_columns
                and wide.include_columns == narrow.include_columns
            )
            if identical and not (wide.unique or wide.primary) and narrow.name < wide.name:
                continue
            pairs.append((narrow, wide))
            break
    return sorted(pairs, key=lambda pair: (pair[0].table, pair[0].name))


@dataclass(frozen=True, slots=True)
class AutovacuumRule:
    """autovacuum's trigger: ``threshold + scale_factor * reltuples`` rows."""

    threshold: float
    scale_factor: float

    def limit(self, tuples: float) -> float:
        return self.threshold + self.scale_factor * max(tuples, 0)


def table_rule(
    defaults: AutovacuumRule, reloptions: Mapping[str, str], prefix: str
) -> AutovacuumRule:
    """The server-wide rule, overridden by the table's ``<prefix>_threshold`` reloptions."""
    threshold = _float_option(reloptions, f"{prefix}_threshold", defaults.threshold)
    scale = _float_option(reloptions, f"{prefix}_scale_factor", defaults.scale_factor)
    return AutovacuumRule(threshold, scale)


def parse_reloptions(options: Sequence[str] | None) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for option in options or ():
        key, _, value = option.partition("=")
        parsed[key] = value
    return parsed


def _float_option(options: Mapping[str, str], key: str, default: float) -> float:
    try:
        return float(options[key])
    except (KeyError, ValueError):
        return default
