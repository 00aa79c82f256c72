"""What a backup's data is, table by table: row counts, content checksums, broken references.

A table's checksum is the sum, modulo 2^256, of the SHA-256 of each row rendered canonically:
column names and values as sorted-key JSON, times in ISO 8601, JSON documents parsed. A sum does
not depend on the order rows come back in, so no sort is needed and a restored copy, whose
physical order differs, gives the same checksum for the same rows; one changed value, a missing
or an extra row changes it.

Tables are taken from ``storage.tables.metadata`` (every table the code knows, whoever added it),
restricted to those the database has. Columns are the ones the database has, read as the driver
returns them, without the code's type processing: the checksum then depends on the data only,
not on the version of the code that computed it, so a backup taken before a migration added a
column is still verified correctly after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Table, and_, column, func, inspect, select, table, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnClause

from cv_evaluator.storage.tables import metadata

_MODULUS = 2**256
# Rows fetched per round trip while streaming a table.
_FETCH = 1000


@dataclass(frozen=True, slots=True)
class TableDigest:
    rows: int
    checksum: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "checksum": self.checksum}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"cannot render {type(value).__name__} canonically")


def row_hash(row: Mapping[Any, Any]) -> int:
    rendered = json.dumps(
        dict(row), default=_plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return int.from_bytes(hashlib.sha256(rendered.encode()).digest(), "big")


async def present_tables(connection: AsyncConnection) -> list[Table]:
    """The known tables this database has, parents before children."""
    names = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    return [known for known in metadata.sorted_tables if known.name in names]


async def present_columns(connection: AsyncConnection, name: str) -> list[str]:
    columns = await connection.run_sync(lambda sync: inspect(sync).get_columns(name))
    return [str(c["name"]) for c in columns]


async def table_digest(connection: AsyncConnection, name: str) -> TableDigest:
    columns = await present_columns(connection, name)
    selected: list[ColumnClause[Any]] = [column(c) for c in columns]
    query: Select[*tuple[Any, ...]] = select(*selected).select_from(table(name))
    total = rows = 0
    result = await connection.stream(query.execution_options(yield_per=_FETCH))
    async for partition in result.mappings().partitions(_FETCH):
        for row in partition:
            total = (total + row_hash(row)) % _MODULUS
            rows += 1
    return TableDigest(rows=rows, checksum=f"{total:064x}")


async def digests(connection: AsyncConnection) -> dict[str, TableDigest]:
    return {
        known.name: await table_digest(connection, known.name)
        for known in await present_tables(connection)
    }


async def schema_revision(connection: AsyncConnection) -> str | None:
    names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    if "alembic_version" not in names:
        return None
    value = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class BrokenReference:
    table: str
    columns: list[str]
    referred_table: str
    referred_columns: list[str]
    rows: int

    def describe(self) -> str:
        return (
            f"{self.rows} {self.table} rows without their {self.referred_table} row "
            f"({self.table}.{'/'.join(self.columns)} → "
            f"{self.referred_table}.{'/'.join(self.referred_columns)})"
        )


async def broken_references(connection: AsyncConnection) -> list[BrokenReference]:
    """Rows whose foreign key names a row that is not there (a job without its uploads...).

    PostgreSQL enforces the keys, so a restore with orphans fails outright; SQLite enforces them
    only per connection, so a file can hold orphans, and this is where they show.
    """
    tables = await present_tables(connection)
    columns = {known.name: set(await present_columns(connection, known.name)) for known in tables}
    broken: list[BrokenReference] = []
    for child_table in tables:
        constraints = sorted(child_table.foreign_key_constraints, key=lambda c: list(c.column_keys))
        for constraint in constraints:
            referred = constraint.referred_table
            pairs = [(element.parent, element.column) for element in constraint.elements]
            # A key the database does not have yet (an older schema revision) cannot be broken.
            if referred.name not in columns or not all(
                child.name in columns[child_table.name] and parent.name in columns[referred.name]
                for child, parent in pairs
            ):
                continue
            match = and_(*[child == parent for child, parent in pairs])
            query = (
                select(func.count())
                .select_from(child_table)
                .where(*[child.is_not(None) for child, _ in pairs])
                .where(~select(pairs[0][1]).where(match).exists())
            )
            count = int((await connection.execute(query)).scalar_one())
            if count:
                broken.append(
                    BrokenReference(
                        table=child_table.name,
                        columns=[child.name for child, _ in pairs],
                        referred_table=referred.name,
                        referred_columns=[parent.name for _, parent in pairs],
                        rows=count,
                    )
                )
    return broken


def compare(
    expected: Mapping[str, Mapping[str, Any]], found: Mapping[str, TableDigest]
) -> list[str]:
    """Problems, one per table, between a manifest's tables and a restored copy's digests."""
    problems: list[str] = []
    for name, wanted in expected.items():
        got = found.get(name)
        if got is None:
            problems.append(f"table {name} is missing from the restored copy")
        elif got.rows != wanted["rows"]:
            problems.append(
                f"row count mismatch in table {name}: {got.rows} restored, "
                f"{wanted['rows']} in the manifest"
            )
        elif got.checksum != wanted["checksum"]:
            problems.append(f"checksum mismatch in table {name} ({got.rows} rows)")
    problems += [
        f"table {name} is in the restored copy but not in the manifest"
        for name in found
        if name not in expected
    ]
    return problems
