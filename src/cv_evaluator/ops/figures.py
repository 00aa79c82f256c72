"""Database figures a maintenance run records before and after itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.resources import resource_figures
from cv_evaluator.storage.engine import sqlite_path
from cv_evaluator.storage.tables import metadata

SERVICE_TABLES = ("uploads", "jobs", "results", "callbacks", "maintenance_runs")


async def database_figures(ctx: OpsContext) -> dict[str, Any]:
    rows: dict[str, int] = {}
    async with ctx.engine.begin() as connection:
        for name in SERVICE_TABLES:
            table = metadata.tables[name]
            rows[name] = int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )
        if ctx.is_postgresql:
            size = (
                await connection.execute(text("SELECT pg_database_size(current_database())"))
            ).scalar_one()
            database_bytes = int(size)
        else:
            database_bytes = _sqlite_bytes(ctx)
    return {"database_bytes": database_bytes, "rows": rows}


def _sqlite_bytes(ctx: OpsContext) -> int:
    path = sqlite_path(ctx.settings.database_url)
    if path is None:
        return 0
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists():
            total += candidate.stat().st_size
    return total


async def figures(ctx: OpsContext) -> dict[str, Any]:
    """Resources and database figures; a part that cannot be read says why instead."""
    result = resource_figures(ctx)
    try:
        result["database"] = await database_figures(ctx)
    except Exception as exc:  # the log must still be written when the database is the problem
        result["database"] = {"error": f"{type(exc).__name__}: {exc}"}
    return result
