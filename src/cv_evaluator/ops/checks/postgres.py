"""PostgreSQL health checks: activity, locks, size, bloat, vacuum, indexes, connections, XIDs.

Every check reads the statistics views and catalogues in one read-only transaction with a
statement and lock time-out, so a check can neither change anything nor hang behind a lock.
How they decide follows pghero and check_postgres; every threshold is a ``MAINT_PG_*`` setting.

Needs PostgreSQL 13 or newer. A role without ``pg_read_all_stats`` (``pg_monitor``) sees the
activity of other roles' sessions only partly; the checks say so (``visibility: limited``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from cv_evaluator.ops.checks.postgres_estimates import (
    AutovacuumRule,
    IndexShape,
    RelationStats,
    btree_bloat,
    duplicate_indexes,
    missing_stats,
    parse_reloptions,
    table_bloat,
    table_rule,
)
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.grading import above, below
from cv_evaluator.ops.model import CheckSkipped, Outcome, Status, worst
from cv_evaluator.ops.registry import check, needs_postgresql

GROUP = "postgresql"
QUERY_CHARS = 200
# Ratios over a handful of events say nothing; below these counts they are reported, not judged.
MIN_TRANSACTIONS_JUDGED = 1000
MIN_BLOCKS_JUDGED = 10_000
# pghero judges index usage only once a table had an index scan; a table scanned sequentially
# this often without any is judged too (it probably lacks the index), backups alone never get
# there.
MIN_SEQ_SCANS_WITHOUT_INDEX_SCANS = 1000
LISTED = 20
XID_HARD_LIMIT = 2**31
_SECONDS_PER_DAY = 86_400.0
_BUSY_STATES = ("active", "idle in transaction", "idle in transaction (aborted)")
# PostgreSQL's "object not in prerequisite state": pg_stat_statements without preloading.
_NOT_PRELOADED = "55000"
# Client sessions, including other roles' sessions whose backend_type a role without
# pg_read_all_stats sees as NULL (background processes have no database or no user).
_CLIENT_SESSIONS = (
    "(backend_type = 'client backend' OR (backend_type IS NULL "
    "AND datname IS NOT NULL AND usename IS NOT NULL))"
)
_USER_SCHEMAS = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
_ENABLE_PG_STAT_STATEMENTS = (
    "set shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, restart "
    "PostgreSQL, then run CREATE EXTENSION pg_stat_statements; in database {database}"
)


# --- reading -------------------------------------------------------------------------------


@asynccontextmanager
async def read_only(ctx: OpsContext) -> AsyncIterator[AsyncConnection]:
    """One read-only transaction, bounded so the database cancels before the runner gives up.

    It commits (a read-only commit changes nothing) rather than rolls back, so the checks that
    run every minute do not inflate the rollback ratio they judge.
    """
    statement_ms = max(100, int(ctx.settings.maint_check_timeout_seconds * 800))
    lock_ms = max(50, statement_ms // 4)
    async with ctx.engine.connect() as conn, conn.begin():
        await conn.execute(text("SET TRANSACTION READ ONLY"))
        await conn.execute(text(f"SET LOCAL statement_timeout = {statement_ms}"))
        await conn.execute(text(f"SET LOCAL lock_timeout = {lock_ms}"))
        await conn.execute(text("SET LOCAL application_name = 'cv-evaluator maint check'"))
        yield conn


async def rows(conn: AsyncConnection, sql: str, **params: Any) -> list[dict[str, Any]]:
    result = await conn.execute(text(sql), params)
    return [dict(row) for row in result.mappings().all()]


async def one(conn: AsyncConnection, sql: str, **params: Any) -> dict[str, Any]:
    found = await rows(conn, sql, **params)
    if not found:
        raise RuntimeError(f"expected a row from: {sql.strip().splitlines()[0]}")
    return found[0]


async def server_version(conn: AsyncConnection) -> int:
    row = await one(conn, "SELECT current_setting('server_version_num')::int AS version")
    version = int(row["version"])
    if version < 130000:
        raise CheckSkipped(f"PostgreSQL {version // 10000} is too old; these checks need 13+")
    return version


async def sees_all_sessions(conn: AsyncConnection) -> bool:
    """Superusers and members of pg_read_all_stats see every session's state and query."""
    row = await one(
        conn, "SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS all_stats"
    )
    return bool(row["all_stats"])


def _visibility(sees_all: bool, hidden: int, user: str) -> dict[str, Any]:
    if sees_all:
        return {"visibility": "full"}
    return {
        "visibility": "limited",
        "hidden_sessions": hidden,
        "how_to_see_all": f"GRANT pg_monitor TO {user};",
    }


def _hidden_note(sees_all: bool, hidden: int) -> str:
    if sees_all or hidden == 0:
        return ""
    return (
        f" (visibility limited: {hidden} session(s) of other roles cannot be inspected; "
        "grant pg_monitor to the database user)"
    )


# --- formatting ----------------------------------------------------------------------------


def _size(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _query_text(query: str | None) -> str | None:
    if query is None:
        return None
    return re.sub(r"\s+", " ", query).strip()[:QUERY_CHARS]


def _problems(items: Sequence[str]) -> str:
    return "; ".join(items)


# --- database health -----------------------------------------------------------------------


@check(
    "postgres.database_health",
    group=GROUP,
    description="Commits, rollback ratio, buffer cache hit ratio and deadlocks of the database.",
    applies=needs_postgresql,
)
async def database_health(ctx: OpsContext) -> Outcome:
    rollback_warn = ctx.threshold("maint_pg_rollback_ratio_warn", "warn above")
    cache_warn = ctx.threshold("maint_pg_cache_hit_ratio_warn", "warn below")
    async with read_only(ctx) as conn:
        stats = await one(
            conn,
            """
            SELECT datname, xact_commit::bigint AS commits, xact_rollback::bigint AS rollbacks,
                   blks_read::bigint AS blocks_read, blks_hit::bigint AS blocks_hit,
                   deadlocks::bigint AS deadlocks, conflicts::bigint AS conflicts,
                   temp_files::bigint AS temp_files, temp_bytes::bigint AS temp_bytes,
                   stats_reset, pg_postmaster_start_time() AS server_started
            FROM pg_stat_database WHERE datname = current_database()
            """,
        )
    database = stats["datname"]
    transactions = stats["commits"] + stats["rollbacks"]
    blocks = stats["blocks_read"] + stats["blocks_hit"]
    rollback_ratio = stats["rollbacks"] / transactions if transactions else 0.0
    cache_ratio = stats["blocks_hit"] / blocks if blocks else 1.0
    since_text = (
        f"since the statistics reset at {stats['stats_reset']:%Y-%m-%d %H:%M %Z}"
        if stats["stats_reset"]
        else "since the statistics began (never reset)"
    )
    statuses: list[Status] = []
    problems: list[str] = []

    rollback_judged = transactions >= MIN_TRANSACTIONS_JUDGED
    if rollback_judged:
        status = above(rollback_ratio, rollback_warn)
        statuses.append(status)
        if status is not Status.OK:
            problems.append(
                f"{_percent(rollback_ratio)} of {transactions} transactions rolled back "
                f"(warn above {_percent(float(rollback_warn.value))}); look for failing "
                "requests in the application logs"
            )
    cache_judged = blocks >= MIN_BLOCKS_JUDGED
    if cache_judged:
        status = below(cache_ratio, cache_warn)
        statuses.append(status)
        if status is not Status.OK:
            problems.append(
                f"cache hit ratio {_percent(cache_ratio)} (warn below "
                f"{_percent(float(cache_warn.value))}); the working set no longer fits "
                "shared_buffers, consider raising it"
            )
    if stats["deadlocks"] > 0:
        statuses.append(Status.WARN)
        problems.append(
            f"{stats['deadlocks']} deadlock(s) {since_text}; see 'deadlock detected' in the "
            "PostgreSQL log for the statements involved"
        )

    details: dict[str, Any] = {
        "database": database,
        "commits": stats["commits"],
        "rollbacks": stats["rollbacks"],
        "rollback_ratio": round(rollback_ratio, 6),
        "rollback_ratio_judged": rollback_judged,
        "blocks_read": stats["blocks_read"],
        "blocks_hit": stats["blocks_hit"],
        "cache_hit_ratio": round(cache_ratio, 6),
        "cache_hit_ratio_judged": cache_judged,
        "deadlocks": stats["deadlocks"],
        "conflicts": stats["conflicts"],
        "temp_files": stats["temp_files"],
        "temp_bytes": stats["temp_bytes"],
        "stats_reset": _iso(stats["stats_reset"]),
        "server_started": _iso(stats["server_started"]),
    }
    if not rollback_judged:
        details["rollback_ratio_note"] = (
            f"not judged: {transactions} transactions since the counters began, "
            f"at least {MIN_TRANSACTIONS_JUDGED} needed"
        )
    if not cache_judged:
        details["cache_hit_ratio_note"] = (
            f"not judged: {blocks} block reads since the counters began, "
            f"at least {MIN_BLOCKS_JUDGED} needed"
        )
    thresholds = [rollback_warn, cache_warn]
    status = worst(statuses)
    if status is Status.OK:
        too_few = " (too few to judge yet)"
        summary = (
            f"{database}: {stats['commits']} commits, {_percent(rollback_ratio)} rolled back"
            f"{'' if rollback_judged else too_few}, cache hit {_percent(cache_ratio)}"
            f"{'' if cache_judged else too_few}, no deadlocks {since_text}"
        )
    else:
        summary = f"{database}: {_problems(problems)}"
    return Outcome(status, summary, details, thresholds)


# --- activity ------------------------------------------------------------------------------


@check(
    "postgres.long_queries",
    group=GROUP,
    description="Queries running, and sessions idle in a transaction, for too long.",
    applies=needs_postgresql,
)
async def long_queries(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_pg_long_query_warn_seconds", "warn above", "s")
    critical = ctx.threshold("maint_pg_long_query_critical_seconds", "critical above", "s")
    async with read_only(ctx) as conn:
        sees_all = await sees_all_sessions(conn)
        sessions = await rows(
            conn,
            f"""
            SELECT pid, usename AS user, application_name AS application, state,
                   client_addr::text AS client, wait_event_type, wait_event,
                   EXTRACT(EPOCH FROM clock_timestamp() - CASE WHEN state = 'active'
                       THEN query_start ELSE xact_start END)::float8 AS seconds,
                   query
            FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND {_CLIENT_SESSIONS}
            """,  # noqa: S608 -- only a fixed fragment is interpolated
        )
        user = (await one(conn, "SELECT current_user AS user"))["user"]
    hidden = sum(1 for s in sessions if s["state"] is None)
    busy = [s for s in sessions if s["state"] in _BUSY_STATES and s["seconds"] is not None]
    offenders = sorted(
        (s for s in busy if above(s["seconds"], warn, critical) is not Status.OK),
        key=lambda s: -s["seconds"],
    )
    listed = [
        {
            "pid": s["pid"],
            "user": s["user"],
            "application": s["application"],
            "state": s["state"],
            "seconds": round(s["seconds"], 1),
            "wait_event": s["wait_event"],
            "client": s["client"],
            "query": _query_text(s["query"]),
            "status": above(s["seconds"], warn, critical).value,
        }
        for s in offenders[:LISTED]
    ]
    details: dict[str, Any] = {
        "busy_sessions": len(busy),
        "idle_in_transaction": sum(1 for s in busy if s["state"] != "active"),
        "over_threshold": len(offenders),
        "sessions": listed,
        "longest_seconds": round(max((s["seconds"] for s in busy), default=0.0), 1),
        **_visibility(sees_all, hidden, user),
    }
    thresholds = [warn, critical]
    if not offenders:
        summary = (
            f"no query or open transaction over {warn.value:g} s "
            f"({len(busy)} busy session(s), longest {details['longest_seconds']:g} s)"
        )
        return Outcome(Status.OK, summary + _hidden_note(sees_all, hidden), details, thresholds)
    status = worst([above(s["seconds"], warn, critical) for s in offenders])
    top = offenders[0]
    what = "running" if top["state"] == "active" else top["state"]
    summary = (
        f"{len(offenders)} session(s) over {warn.value:g} s; longest pid {top['pid']} "
        f"({top['user']}, {top['application'] or 'no application name'}) {what} for "
        f"{top['seconds']:.0f} s: {_query_text(top['query'])!r}; "
        f"stop it with SELECT pg_cancel_backend({top['pid']}) or pg_terminate_backend"
    )
    return Outcome(status, summary + _hidden_note(sees_all, hidden), details, thresholds)


@check(
    "postgres.blocked_queries",
    group=GROUP,
    description="Queries waiting on a lock held by another session, and who holds it.",
    applies=needs_postgresql,
)
async def blocked_queries(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_pg_blocked_warn_seconds", "warn above", "s")
    async with read_only(ctx) as conn:
        version = await server_version(conn)
        sees_all = await sees_all_sessions(conn)
        # pg_locks.waitstart exists from PostgreSQL 14; before, the state change is close.
        wait_start = (
            "COALESCE(l.waitstart, a.state_change)" if version >= 140000 else ("a.state_change")
        )
        waitstart_column = "min(waitstart)" if version >= 140000 else "NULL::timestamptz"
        # Only sessions already waiting on a lock call pg_blocking_pids, which briefly takes
        # the lock manager's locks: cheap when nothing waits.
        blocked = await rows(
            conn,
            f"""
            SELECT a.pid, a.usename AS user, a.application_name AS application,
                   pg_blocking_pids(a.pid) AS blocking_pids, l.locktype, l.mode,
                   EXTRACT(EPOCH FROM clock_timestamp() - {wait_start})::float8 AS wait_seconds,
                   a.query
            FROM pg_stat_activity a
            LEFT JOIN LATERAL (
                SELECT {waitstart_column} AS waitstart, min(locktype) AS locktype,
                       min(mode) AS mode
                FROM pg_locks WHERE pid = a.pid AND NOT granted
            ) l ON true
            WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
              AND a.pid <> pg_backend_pid()
            ORDER BY wait_seconds DESC NULLS LAST
            """,  # noqa: S608 -- only fixed fragments are interpolated
        )
        blocker_pids = sorted({pid for b in blocked for pid in b["blocking_pids"] or []})
        blockers = (
            await rows(
                conn,
                """
                SELECT pid, usename AS user, application_name AS application, state,
                       EXTRACT(EPOCH FROM clock_timestamp() - xact_start)::float8
                           AS transaction_seconds,
                       query
                FROM pg_stat_activity WHERE pid = ANY(:pids)
                """,
                pids=blocker_pids,
            )
            if blocker_pids
            else []
        )
        hidden = (
            await one(
                conn,
                f"""
                SELECT count(*) AS hidden FROM pg_stat_activity
                WHERE datname = current_database() AND state IS NULL
                  AND {_CLIENT_SESSIONS}
                """,  # noqa: S608 -- only a fixed fragment is interpolated
            )
        )["hidden"]
        user = (await one(conn, "SELECT current_user AS user"))["user"]

    waiting = [
        {
            "pid": b["pid"],
            "user": b["user"],
            "application": b["application"],
            "blocking_pids": list(b["blocking_pids"] or []),
            "wait_seconds": round(b["wait_seconds"] or 0.0, 1),
            "lock": f"{b['mode']} on {b['locktype']}" if b["mode"] else None,
            "query": _query_text(b["query"]),
        }
        for b in blocked
    ]
    holders = [
        {
            "pid": h["pid"],
            "user": h["user"],
            "application": h["application"],
            "state": h["state"],
            "transaction_seconds": (
                round(h["transaction_seconds"], 1) if h["transaction_seconds"] is not None else None
            ),
            "query": _query_text(h["query"]),
        }
        for h in blockers
    ]
    over = [w for w in waiting if above(w["wait_seconds"], warn) is not Status.OK]
    details: dict[str, Any] = {
        "waiting": waiting[:LISTED],
        "waiting_count": len(waiting),
        "over_threshold": len(over),
        "blocking_sessions": holders,
        **_visibility(sees_all, int(hidden), user),
    }
    note = _hidden_note(sees_all, int(hidden))
    if not over:
        summary = (
            f"no query waiting on a lock for more than {warn.value:g} s "
            f"({len(waiting)} waiting now)"
        )
        return Outcome(Status.OK, summary + note, details, [warn])
    top = over[0]
    holder = next((h for h in holders if h["pid"] in top["blocking_pids"]), None)
    held_by = (
        f"held by pid {holder['pid']} ({holder['user']}, {holder['state']})"
        if holder
        else f"held by pid(s) {top['blocking_pids']}"
    )
    summary = (
        f"{len(over)} query(ies) waiting on a lock over {warn.value:g} s; pid {top['pid']} "
        f"waits {top['wait_seconds']:.0f} s for {top['lock'] or 'a lock'} {held_by}: "
        f"{top['query']!r}; end the blocker's transaction or pg_terminate_backend it"
    )
    return Outcome(Status.WARN, summary + note, details, [warn])


@check(
    "postgres.connections",
    group=GROUP,
    description="Client connections by state against max_connections.",
    applies=needs_postgresql,
)
async def connections(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_pg_connections_warn_ratio", "warn above")
    critical = ctx.threshold("maint_pg_connections_critical_ratio", "critical above")
    async with read_only(ctx) as conn:
        sees_all = await sees_all_sessions(conn)
        by_state = await rows(
            conn,
            f"""
            SELECT COALESCE(state, 'not visible') AS state, count(*)::int AS count
            FROM pg_stat_activity WHERE {_CLIENT_SESSIONS}
            GROUP BY 1 ORDER BY 2 DESC
            """,  # noqa: S608 -- only a fixed fragment is interpolated
        )
        by_database = await rows(
            conn,
            f"""
            SELECT COALESCE(datname, '(none)') AS database, count(*)::int AS count
            FROM pg_stat_activity WHERE {_CLIENT_SESSIONS}
            GROUP BY 1 ORDER BY 2 DESC
            """,  # noqa: S608 -- only a fixed fragment is interpolated
        )
        settings = await rows(
            conn,
            """
            SELECT name, setting::int AS value FROM pg_settings
            WHERE name IN ('max_connections', 'superuser_reserved_connections',
                           'reserved_connections')
            """,
        )
        user = (await one(conn, "SELECT current_user AS user"))["user"]
    values = {s["name"]: s["value"] for s in settings}
    max_connections = values["max_connections"]
    reserved = values.get("superuser_reserved_connections", 0) + values.get(
        "reserved_connections", 0
    )
    available = max(1, max_connections - reserved)
    in_use = sum(s["count"] for s in by_state)
    ratio = in_use / available
    status = above(ratio, warn, critical)
    states = {s["state"]: s["count"] for s in by_state}
    hidden = states.get("not visible", 0)
    details: dict[str, Any] = {
        "in_use": in_use,
        "max": max_connections,
        "reserved": reserved,
        "available": available,
        "ratio": round(ratio, 4),
        "by_state": states,
        "by_database": {d["database"]: d["count"] for d in by_database},
        **_visibility(sees_all, hidden, user),
    }
    state_text = ", ".join(f"{count} {state}" for state, count in states.items())
    summary = (
        f"{in_use} of {available} connections in use ({_percent(ratio)}; max_connections "
        f"{max_connections} minus {reserved} reserved): {state_text}"
    )
    if status is not Status.OK:
        idle = states.get("idle", 0)
        summary += (
            f"; {idle} idle: lower DB_POOL_SIZE or the number of processes, or put a pooler "
            "(PgBouncer) in front"
            if idle
            else "; raise max_connections or reduce the processes connecting"
        )
    return Outcome(status, summary, details, [warn, critical])


# --- size and bloat ------------------------------------------------------------------------


@check(
    "postgres.database_size",
    group=GROUP,
    description="Size of the database and its largest tables (table, indexes, total).",
    applies=needs_postgresql,
)
async def database_size(ctx: OpsContext) -> Outcome:
    async with read_only(ctx) as conn:
        total = await one(
            conn,
            "SELECT current_database() AS name, pg_database_size(current_database()) AS bytes",
        )
        tables = await rows(
            conn,
            f"""
            SELECT n.nspname || '.' || c.relname AS table,
                   pg_table_size(c.oid) AS table_bytes,
                   pg_indexes_size(c.oid) AS index_bytes,
                   pg_total_relation_size(c.oid) AS total_bytes,
                   GREATEST(c.reltuples, 0)::bigint AS estimated_rows
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND {_USER_SCHEMAS}
            ORDER BY total_bytes DESC, 1
            LIMIT 10
            """,  # noqa: S608 -- only a fixed fragment is interpolated
        )
    largest = tables[0] if tables else None
    summary = f"database {total['name']} is {_size(total['bytes'])}"
    if largest:
        summary += (
            f"; largest table {largest['table']} {_size(largest['total_bytes'])} "
            f"({_size(largest['table_bytes'])} data, {_size(largest['index_bytes'])} indexes)"
        )
    details = {"database": total["name"], "database_bytes": total["bytes"], "largest": tables}
    return Outcome(Status.OK, summary, details, [])


@check(
    "postgres.bloat",
    group=GROUP,
    description="Estimated wasted space in tables and B-tree indexes (statistics-based).",
    applies=needs_postgresql,
)
async def bloat(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_pg_bloat_warn_ratio", "warn above")
    min_mb = ctx.threshold("maint_pg_bloat_min_mb", "only relations of at least", "MiB")
    min_bytes = int(ctx.settings.maint_pg_bloat_min_mb * 1024 * 1024)
    async with read_only(ctx) as conn:
        block_size = int((await one(conn, "SELECT current_setting('block_size')::int AS bs"))["bs"])
        tables = await rows(
            conn,
            f"""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
                   c.relpages::bigint AS pages, c.reltuples::float8 AS tuples, c.reloptions,
                   pg_relation_size(c.oid) AS size_bytes,
                   count(a.attnum)::int AS columns, count(s.attname)::int AS columns_with_stats,
                   COALESCE(sum((1 - s.null_frac) * s.avg_width), 0)::float8 AS data_width,
                   COALESCE(bool_or(s.null_frac > 0), false) AS has_nulls
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
                 AND s.attname = a.attname AND NOT s.inherited
            WHERE c.relkind IN ('r', 'm') AND {_USER_SCHEMAS}
              AND pg_relation_size(c.oid) >= :min_bytes
            GROUP BY c.oid, n.nspname, c.relname, c.relpages, c.reltuples, c.reloptions
            """,  # noqa: S608 -- only a fixed fragment is interpolated
            min_bytes=min_bytes,
        )
        # An index column is a table column (its pg_stats row is under the table) or an
        # expression (ANALYZE files its statistics under the index's own name).
        indexes = await rows(
            conn,
            f"""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
                   quote_ident(n.nspname) || '.' || quote_ident(t.relname) AS table,
                   am.amname AS method, c.relpages::bigint AS pages,
                   c.reltuples::float8 AS tuples, c.reloptions,
                   pg_relation_size(c.oid) AS size_bytes,
                   count(ia.attnum)::int AS columns, count(s.attname)::int AS columns_with_stats,
                   COALESCE(sum((1 - s.null_frac) * s.avg_width), 0)::float8 AS data_width,
                   COALESCE(bool_or(s.null_frac > 0), false) AS has_nulls
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_am am ON am.oid = c.relam
            JOIN pg_attribute ia ON ia.attrelid = c.oid AND ia.attnum > 0
            LEFT JOIN pg_attribute ta ON ta.attrelid = t.oid
                 AND ta.attnum = i.indkey[ia.attnum - 1] AND ta.attnum > 0
            LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND NOT s.inherited
                 AND s.tablename = CASE WHEN ta.attname IS NULL THEN c.relname
                                        ELSE t.relname END
                 AND s.attname = COALESCE(ta.attname, ia.attname)
            WHERE i.indisvalid AND {_USER_SCHEMAS}
              AND pg_relation_size(c.oid) >= :min_bytes
            GROUP BY c.oid, n.nspname, c.relname, t.relname, am.amname, c.relpages,
                     c.reltuples, c.reloptions
            """,  # noqa: S608 -- only a fixed fragment is interpolated
            min_bytes=min_bytes,
        )

    findings: list[dict[str, Any]] = []
    without_stats: list[str] = []
    not_estimated: list[str] = []
    for kind, relation in [*(("table", t) for t in tables), *(("index", i) for i in indexes)]:
        if kind == "index" and relation["method"] != "btree":
            not_estimated.append(relation["name"])
            continue
        fillfactor = parse_reloptions(relation["reloptions"]).get("fillfactor")
        stats = RelationStats(
            pages=relation["pages"],
            tuples=relation["tuples"],
            columns=relation["columns"],
            columns_with_stats=relation["columns_with_stats"],
            data_width=relation["data_width"],
            has_nulls=relation["has_nulls"],
            fillfactor=int(fillfactor) if fillfactor and fillfactor.isdigit() else None,
        )
        if missing_stats(stats):
            without_stats.append(relation["name"])
            continue
        estimate = (table_bloat if kind == "table" else btree_bloat)(stats, block_size)
        findings.append(
            {
                "kind": kind,
                "name": relation["name"],
                "table": relation.get("table", relation["name"]),
                "size_bytes": relation["size_bytes"],
                "wasted_ratio": round(estimate.wasted_ratio, 4),
                "wasted_bytes": round(estimate.wasted_ratio * relation["size_bytes"]),
                "status": above(estimate.wasted_ratio, warn).value,
            }
        )
    findings.sort(key=lambda f: -f["wasted_bytes"])
    bloated = [f for f in findings if f["status"] != Status.OK.value]
    details: dict[str, Any] = {
        "estimated": len(findings),
        "bloated": bloated[:LISTED],
        "bloated_count": len(bloated),
        "largest_waste": findings[:5],
        "without_stats": without_stats,
        "not_estimated": not_estimated,
        "method": "statistics-based estimate from pg_stats and pg_class (heap without TOAST; "
        "B-tree leaf pages); figures are as of the last ANALYZE",
    }
    if without_stats:
        details["without_stats_note"] = (
            "no estimate without statistics for every column: run ANALYZE on these (or the "
            "database user cannot read their pg_stats rows)"
        )
    stats_note = (
        f"; {len(without_stats)} relation(s) without statistics (run ANALYZE)"
        if without_stats
        else ""
    )
    thresholds = [warn, min_mb]
    if not bloated:
        summary = (
            f"no table or index of at least {min_mb.value:g} MiB over "
            f"{_percent(float(warn.value))} estimated waste ({len(findings)} estimated)"
        )
        return Outcome(Status.OK, summary + stats_note, details, thresholds)
    top = bloated[0]
    fix = (
        f"REINDEX INDEX CONCURRENTLY {top['name']}"
        if top["kind"] == "index"
        else f"pg_repack, or VACUUM FULL {top['name']} in a maintenance window (it locks)"
    )
    summary = (
        f"{len(bloated)} relation(s) over {_percent(float(warn.value))} estimated waste; "
        f"worst {top['kind']} {top['name']} ~{_size(top['wasted_bytes'])} of "
        f"{_size(top['size_bytes'])} wasted ({_percent(top['wasted_ratio'])}): {fix}"
    )
    return Outcome(Status.WARN, summary + stats_note, details, thresholds)


# --- vacuum --------------------------------------------------------------------------------


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


@check(
    "postgres.vacuum",
    group=GROUP,
    description="Dead rows, and tables autovacuum should have vacuumed or analyzed but has not.",
    applies=needs_postgresql,
)
async def vacuum(ctx: OpsContext) -> Outcome:
    dead_ratio = ctx.threshold("maint_pg_dead_tuple_warn_ratio", "warn above")
    dead_min = ctx.threshold("maint_pg_dead_tuple_min_rows", "at least", "dead rows")
    days = ctx.threshold("maint_pg_vacuum_warn_days", "warn when not done for", "days")
    async with read_only(ctx) as conn:
        await server_version(conn)
        settings = await rows(
            conn,
            """
            SELECT name, setting FROM pg_settings
            WHERE name IN ('autovacuum', 'track_counts', 'autovacuum_vacuum_threshold',
                'autovacuum_vacuum_scale_factor', 'autovacuum_analyze_threshold',
                'autovacuum_analyze_scale_factor', 'autovacuum_vacuum_insert_threshold',
                'autovacuum_vacuum_insert_scale_factor')
            """,
        )
        baseline = await one(
            conn,
            """
            SELECT COALESCE(stats_reset, pg_postmaster_start_time()) AS since
            FROM pg_stat_database WHERE datname = current_database()
            """,
        )
        tables = await rows(
            conn,
            """
            SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS name,
                   s.n_live_tup AS live, s.n_dead_tup AS dead,
                   s.n_mod_since_analyze AS modified, s.n_ins_since_vacuum AS inserted,
                   s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
                   c.reltuples::float8 AS tuples, c.reloptions
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.schemaname !~ '^pg_'
            """,
        )
    setting = {s["name"]: s["setting"] for s in settings}
    if setting.get("track_counts") == "off":
        raise CheckSkipped(
            "track_counts is off: PostgreSQL keeps no row counts, so neither autovacuum nor "
            "this check can judge the tables; turn track_counts on"
        )
    vacuum_rule = AutovacuumRule(
        float(setting.get("autovacuum_vacuum_threshold", 50)),
        float(setting.get("autovacuum_vacuum_scale_factor", 0.2)),
    )
    insert_rule = AutovacuumRule(
        float(setting.get("autovacuum_vacuum_insert_threshold", 1000)),
        float(setting.get("autovacuum_vacuum_insert_scale_factor", 0.2)),
    )
    analyze_rule = AutovacuumRule(
        float(setting.get("autovacuum_analyze_threshold", 50)),
        float(setting.get("autovacuum_analyze_scale_factor", 0.1)),
    )
    now = ctx.clock.now()
    limit_seconds = float(days.value) * _SECONDS_PER_DAY
    since: datetime = baseline["since"]
    window_days = (now - since).total_seconds() / _SECONDS_PER_DAY

    def overdue(last: datetime | None) -> float | None:
        """Days since ``last`` when over the limit; never done counts from the baseline."""
        reference = last or since
        age = (now - reference).total_seconds()
        return age / _SECONDS_PER_DAY if age > limit_seconds else None

    dead_findings: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    autovacuum_off: list[str] = []
    for table in tables:
        options = parse_reloptions(table["reloptions"])
        if options.get("autovacuum_enabled", "true").lower() in {"false", "off", "0"}:
            autovacuum_off.append(table["name"])
        live, dead = table["live"], table["dead"]
        ratio = dead / (live + dead) if live + dead else 0.0
        if dead >= int(dead_min.value) and above(ratio, dead_ratio) is not Status.OK:
            dead_findings.append(
                {
                    "table": table["name"],
                    "dead_rows": dead,
                    "live_rows": live,
                    "dead_ratio": round(ratio, 4),
                }
            )
        tuples = table["tuples"]
        last_vacuum = _latest(table["last_vacuum"], table["last_autovacuum"])
        last_analyze = _latest(table["last_analyze"], table["last_autoanalyze"])
        inserts_due = insert_rule.threshold >= 0 and table["inserted"] > table_rule(
            insert_rule, options, "autovacuum_vacuum_insert"
        ).limit(tuples)
        vacuum_due = (
            dead > table_rule(vacuum_rule, options, "autovacuum_vacuum").limit(tuples)
            or inserts_due
        )
        analyze_due = table["modified"] > table_rule(
            analyze_rule, options, "autovacuum_analyze"
        ).limit(tuples)
        for action, due, last in (
            ("vacuum", vacuum_due, last_vacuum),
            ("analyze", analyze_due, last_analyze),
        ):
            age = overdue(last) if due else None
            if age is not None:
                stale.append(
                    {
                        "table": table["name"],
                        "action": action,
                        "last": _iso(last),
                        "days": round(age, 1),
                        "dead_rows": dead,
                        "modified_since_analyze": table["modified"],
                        "inserted_since_vacuum": table["inserted"],
                    }
                )
    dead_findings.sort(key=lambda f: -f["dead_rows"])
    stale.sort(key=lambda f: -f["days"])
    details: dict[str, Any] = {
        "tables": len(tables),
        "dead_rows": dead_findings[:LISTED],
        "stale": stale[:LISTED],
        "autovacuum": setting.get("autovacuum"),
        "autovacuum_disabled_tables": autovacuum_off,
        "statistics_since": _iso(since),
        "note": "a table counts as needing vacuum or analyze once its changes pass autovacuum's "
        "own trigger (threshold + scale factor x rows); a table never vacuumed counts from "
        "statistics_since",
    }
    thresholds = [dead_ratio, dead_min, days]
    problems: list[str] = []
    if dead_findings:
        top = dead_findings[0]
        problems.append(
            f"{len(dead_findings)} table(s) with too many dead rows, worst {top['table']} "
            f"{top['dead_rows']} dead ({_percent(top['dead_ratio'])}): VACUUM (VERBOSE) "
            f"{top['table']}"
        )
    if stale:
        top = stale[0]
        when = f"since {top['last'][:10]}" if top["last"] else f"in {window_days:.0f}+ days"
        problems.append(
            f"{len(stale)} overdue vacuum/analyze, worst {top['table']} not {top['action']}d "
            f"{when} ({top['days']:.0f} days): run VACUUM (ANALYZE) {top['table']} and check "
            "why autovacuum skips it (disabled, long transactions, too few workers)"
        )
    if not problems:
        summary = (
            f"{len(tables)} table(s): none with too many dead rows, none overdue for vacuum or "
            f"analyze (limit {float(days.value):g} days)"
        )
        return Outcome(Status.OK, summary, details, thresholds)
    return Outcome(Status.WARN, _problems(problems), details, thresholds)


# --- indexes -------------------------------------------------------------------------------


async def _stats_since(conn: AsyncConnection) -> str | None:
    row = await one(
        conn,
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()",
    )
    return _iso(row["stats_reset"])


@check(
    "postgres.unused_indexes",
    group=GROUP,
    description="Indexes never scanned on larger tables (not unique, not primary key, not "
    "backing a foreign key).",
    applies=needs_postgresql,
)
async def unused_indexes(ctx: OpsContext) -> Outcome:
    large = ctx.threshold("maint_pg_large_table_rows", "only tables with at least", "rows")
    async with read_only(ctx) as conn:
        found = await rows(
            conn,
            """
            SELECT quote_ident(ui.schemaname) || '.' || quote_ident(ui.indexrelname) AS index,
                   quote_ident(ui.schemaname) || '.' || quote_ident(ui.relname) AS table,
                   pg_relation_size(ui.indexrelid) AS size_bytes,
                   GREATEST(t.n_live_tup, c.reltuples::bigint, 0) AS table_rows,
                   pg_get_indexdef(ui.indexrelid) AS definition
            FROM pg_stat_user_indexes ui
            JOIN pg_index i ON i.indexrelid = ui.indexrelid
            JOIN pg_stat_user_tables t ON t.relid = ui.relid
            JOIN pg_class c ON c.oid = ui.relid
            WHERE ui.idx_scan = 0 AND i.indisvalid AND NOT i.indisunique
              AND NOT i.indisprimary AND NOT i.indisexclusion
              AND ui.schemaname !~ '^pg_'
              AND GREATEST(t.n_live_tup, c.reltuples::bigint) >= :rows
              AND NOT EXISTS (
                  SELECT 1 FROM pg_constraint fk
                  WHERE fk.contype = 'f' AND fk.conrelid = i.indrelid
                    AND array_to_string(
                          (i.indkey::int2[])[0:cardinality(fk.conkey) - 1], ','
                        ) = array_to_string(fk.conkey, ',')
              )
            ORDER BY size_bytes DESC, 1
            """,
            rows=int(large.value),
        )
        since = await _stats_since(conn)
    details: dict[str, Any] = {
        "unused": found[:LISTED],
        "unused_count": len(found),
        "wasted_bytes": sum(f["size_bytes"] for f in found),
        "scans_counted_since": since or "the statistics began (never reset)",
        "note": "scans on standbys are not counted here; check them before dropping. Indexes "
        "that lead with a foreign key's columns are not judged: they are scanned only when a "
        "referenced row is deleted (data retention), and without them that delete reads the "
        "whole table",
    }
    if not found:
        summary = f"every index on tables of {int(large.value)}+ rows has been used"
        return Outcome(Status.OK, summary, details, [large])
    top = found[0]
    summary = (
        f"{len(found)} index(es) never used ({_size(details['wasted_bytes'])}); largest "
        f"{top['index']} on {top['table']} ({_size(top['size_bytes'])}): DROP INDEX "
        f"CONCURRENTLY {top['index']} once you are sure no query or standby needs it"
    )
    return Outcome(Status.WARN, summary, details, [large])


@check(
    "postgres.duplicate_indexes",
    group=GROUP,
    description="Indexes whose columns are a leading prefix of another index (pghero's rule).",
    applies=needs_postgresql,
)
async def duplicate_indexes_check(ctx: OpsContext) -> Outcome:
    async with read_only(ctx) as conn:
        found = await rows(
            conn,
            f"""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
                   quote_ident(n.nspname) || '.' || quote_ident(t.relname) AS table,
                   am.amname AS method, i.indnkeyatts AS key_count,
                   i.indkey::int2[] AS columns, i.indclass::oid[] AS opclasses,
                   i.indcollation::oid[] AS collations,
                   pg_get_expr(i.indexprs, i.indrelid) AS expressions,
                   pg_get_expr(i.indpred, i.indrelid) AS predicate,
                   i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
                   pg_relation_size(c.oid) AS size_bytes,
                   pg_get_indexdef(c.oid) AS definition
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_am am ON am.oid = c.relam
            WHERE {_USER_SCHEMAS}
            """,  # noqa: S608 -- only a fixed fragment is interpolated
        )
    by_name = {f["name"]: f for f in found}
    shapes = [
        IndexShape(
            name=f["name"],
            table=f["table"],
            method=f["method"],
            key_columns=tuple(f["columns"][: f["key_count"]]),
            include_columns=tuple(f["columns"][f["key_count"] :]),
            opclasses=tuple(f["opclasses"]),
            collations=tuple(f["collations"]),
            expressions=f["expressions"],
            predicate=f["predicate"],
            unique=f["unique"],
            primary=f["primary"],
            valid=f["valid"],
        )
        for f in found
    ]
    pairs = [
        {
            "table": redundant.table,
            "redundant_index": redundant.name,
            "redundant_definition": by_name[redundant.name]["definition"],
            "redundant_bytes": by_name[redundant.name]["size_bytes"],
            "covering_index": covering.name,
            "covering_definition": by_name[covering.name]["definition"],
        }
        for redundant, covering in duplicate_indexes(shapes)
    ]
    details: dict[str, Any] = {
        "indexes": len(shapes),
        "duplicates": pairs,
        "wasted_bytes": sum(p["redundant_bytes"] for p in pairs),
    }
    if not pairs:
        return Outcome(Status.OK, f"no redundant index among {len(shapes)} index(es)", details, [])
    top = max(pairs, key=lambda p: p["redundant_bytes"])
    summary = (
        f"{len(pairs)} redundant index(es) ({_size(details['wasted_bytes'])}): "
        f"{top['redundant_index']} is covered by {top['covering_index']} on {top['table']}; "
        f"DROP INDEX CONCURRENTLY {top['redundant_index']}"
    )
    return Outcome(Status.WARN, summary, details, [])


def _recreate_statement(definition: str) -> str:
    return re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", definition)


@check(
    "postgres.invalid_indexes",
    group=GROUP,
    description="Invalid indexes left behind by a failed CREATE or REINDEX CONCURRENTLY.",
    applies=needs_postgresql,
)
async def invalid_indexes(ctx: OpsContext) -> Outcome:
    async with read_only(ctx) as conn:
        found = await rows(
            conn,
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS index,
                   quote_ident(n.nspname) || '.' || quote_ident(t.relname) AS table,
                   pg_get_indexdef(c.oid) AS definition,
                   pg_relation_size(c.oid) AS size_bytes,
                   c.oid IN (SELECT index_relid FROM pg_stat_progress_create_index
                             WHERE index_relid IS NOT NULL) AS being_built
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT i.indisvalid
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname !~ '^pg_(toast_)?temp_'
            ORDER BY 1
            """,
        )
    building = [f["index"] for f in found if f["being_built"]]
    broken = []
    for f in found:
        if f["being_built"]:
            continue
        leftover = re.search(r"_cc(new|old)\d*$", f["index"].strip('"')) is not None
        fix = f"DROP INDEX CONCURRENTLY {f['index']};"
        if not leftover:
            fix += f" then {_recreate_statement(f['definition'])};"
        broken.append({**f, "fix": fix, "reindex_leftover": leftover})
    details: dict[str, Any] = {"invalid": broken, "being_built": building}
    if not broken:
        summary = "no invalid index"
        if building:
            summary += f" ({len(building)} being built concurrently right now)"
        return Outcome(Status.OK, summary, details, [])
    top = broken[0]
    summary = (
        f"{len(broken)} invalid index(es) (unused by queries, still slowing writes): "
        f"{top['index']} on {top['table']}; fix: {top['fix']}"
    )
    return Outcome(Status.CRITICAL, summary, details, [])


@check(
    "postgres.index_usage",
    group=GROUP,
    description="Share of index scans over all scans of larger tables (pghero's rule).",
    applies=needs_postgresql,
)
async def index_usage(ctx: OpsContext) -> Outcome:
    minimum = ctx.threshold("maint_pg_index_usage_min_ratio", "warn below")
    large = ctx.threshold("maint_pg_large_table_rows", "only tables with at least", "rows")
    async with read_only(ctx) as conn:
        tables = await rows(
            conn,
            """
            SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS table,
                   s.seq_scan, COALESCE(s.idx_scan, 0) AS idx_scan,
                   GREATEST(s.n_live_tup, c.reltuples::bigint, 0) AS table_rows
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.schemaname !~ '^pg_'
              AND GREATEST(s.n_live_tup, c.reltuples::bigint) >= :rows
            """,
            rows=int(large.value),
        )
        since = await _stats_since(conn)
    judged: list[dict[str, Any]] = []
    not_judged: list[str] = []
    for table in tables:
        seq, idx = table["seq_scan"], table["idx_scan"]
        if idx == 0 and seq < MIN_SEQ_SCANS_WITHOUT_INDEX_SCANS:
            not_judged.append(table["table"])
            continue
        ratio = idx / (seq + idx)
        judged.append(
            {**table, "index_ratio": round(ratio, 4), "status": below(ratio, minimum).value}
        )
    low = sorted(
        (t for t in judged if t["status"] != Status.OK.value),
        key=lambda t: (t["index_ratio"], -t["table_rows"]),
    )
    details: dict[str, Any] = {
        "judged": judged[:LISTED],
        "low": low[:LISTED],
        "not_judged": not_judged,
        "not_judged_note": (
            f"no index scan yet and fewer than {MIN_SEQ_SCANS_WITHOUT_INDEX_SCANS} sequential "
            "scans: not enough to judge"
        ),
        "scans_counted_since": since or "the statistics began (never reset)",
    }
    thresholds = [minimum, large]
    if not low:
        summary = (
            f"{len(judged)} table(s) of {int(large.value)}+ rows judged, all use indexes for at "
            f"least {_percent(float(minimum.value))} of scans"
        )
        return Outcome(Status.OK, summary, details, thresholds)
    top = low[0]
    summary = (
        f"{len(low)} larger table(s) mostly read sequentially; worst {top['table']} "
        f"({top['table_rows']} rows): {_percent(top['index_ratio'])} index scans of "
        f"{top['seq_scan'] + top['idx_scan']}; find its queries in pg_stat_statements and "
        "add the missing index"
    )
    return Outcome(Status.WARN, summary, details, thresholds)


# --- transaction IDs -----------------------------------------------------------------------


@check(
    "postgres.wraparound",
    group=GROUP,
    description="Transaction-ID age of every database against the wraparound limit.",
    applies=needs_postgresql,
)
async def wraparound(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_pg_wraparound_warn_age", "warn above", "transactions")
    critical = ctx.threshold("maint_pg_wraparound_critical_age", "critical above", "transactions")
    async with read_only(ctx) as conn:
        databases = await rows(
            conn,
            """
            SELECT datname AS database, age(datfrozenxid)::bigint AS xid_age,
                   mxid_age(datminmxid)::bigint AS multixact_age
            FROM pg_database ORDER BY xid_age DESC, datname
            """,
        )
        oldest_tables = await rows(
            conn,
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS table,
                   age(c.relfrozenxid)::bigint AS xid_age
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'
            ORDER BY xid_age DESC LIMIT 5
            """,
        )
    for database in databases:
        database["percent_of_limit"] = database["xid_age"] / XID_HARD_LIMIT * 100
    top = databases[0]
    status = above(top["xid_age"], warn, critical)
    details: dict[str, Any] = {
        "databases": databases,
        "oldest_tables_here": oldest_tables,
        "hard_limit": XID_HARD_LIMIT,
        "max_age": top["xid_age"],
    }
    summary = (
        f"oldest transaction-ID age {top['xid_age']:,} in database {top['database']} "
        f"({top['percent_of_limit']:.2f}% of the 2^31 wraparound limit)"
    )
    if status is not Status.OK:
        summary += (
            f"; run VACUUM (FREEZE, VERBOSE) in {top['database']} starting with its oldest "
            "tables, and end long transactions, stale prepared transactions and unused "
            "replication slots that hold it back"
        )
    return Outcome(status, summary, details, [warn, critical])


# --- statements ----------------------------------------------------------------------------


@check(
    "postgres.slow_queries",
    group=GROUP,
    description="Statements with the highest mean time (needs pg_stat_statements).",
    applies=needs_postgresql,
)
async def slow_queries(ctx: OpsContext) -> Outcome:
    warn = ctx.threshold("maint_pg_slow_query_warn_ms", "warn above", "ms mean")
    async with read_only(ctx) as conn:
        await server_version(conn)
        extension = await rows(
            conn,
            """
            SELECT quote_ident(n.nspname) AS schema, e.extversion AS version
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_stat_statements'
            """,
        )
        database = (await one(conn, "SELECT current_database() AS name"))["name"]
        sees_all = await sees_all_sessions(conn)
    how = _ENABLE_PG_STAT_STATEMENTS.format(database=database)
    if not extension:
        raise CheckSkipped(f"pg_stat_statements is not installed in {database}: {how}")
    schema = extension[0]["schema"]
    try:
        async with read_only(ctx) as conn:
            # The extension's schema comes from quote_ident above.
            statements = await rows(
                conn,
                f"""
                SELECT s.queryid::text AS queryid, r.rolname AS user, s.calls::bigint AS calls,
                       s.mean_exec_time::float8 AS mean_ms,
                       s.total_exec_time::float8 AS total_ms,
                       s.rows::bigint AS rows, s.query
                FROM {schema}.pg_stat_statements s
                LEFT JOIN pg_roles r ON r.oid = s.userid
                WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY s.mean_exec_time DESC
                LIMIT 10
                """,  # noqa: S608 -- the schema name is quote_ident()ed
            )
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == _NOT_PRELOADED:
            raise CheckSkipped(
                f"pg_stat_statements is installed in {database} but not loaded: {how}"
            ) from None
        raise
    top = [
        {
            "queryid": s["queryid"],
            "user": s["user"],
            "calls": s["calls"],
            "mean_ms": round(s["mean_ms"], 2),
            "total_ms": round(s["total_ms"], 1),
            "rows": s["rows"],
            "query": _query_text(s["query"]),
            "status": above(s["mean_ms"], warn).value,
        }
        for s in statements
    ]
    hidden = sum(1 for s in statements if s["query"] in (None, "<insufficient privilege>"))
    slow = [s for s in top if s["status"] != Status.OK.value]
    details: dict[str, Any] = {
        "top_by_mean": top,
        "slow_count": len(slow),
        "visibility": "full" if sees_all else "limited",
        "hidden_statements": hidden,
        "reset_with": "SELECT pg_stat_statements_reset();",
    }
    if not slow:
        slowest = f", slowest mean {top[0]['mean_ms']:.1f} ms" if top else ""
        summary = f"no statement with a mean time over {warn.value:g} ms{slowest}"
        return Outcome(Status.OK, summary, details, [warn])
    worst_one = slow[0]
    summary = (
        f"{len(slow)} statement(s) with a mean over {warn.value:g} ms; slowest "
        f"{worst_one['mean_ms']:.0f} ms mean over {worst_one['calls']} call(s) "
        f"(total {worst_one['total_ms'] / 1000:.1f} s): {worst_one['query']!r}; "
        "EXPLAIN (ANALYZE, BUFFERS) it"
    )
    return Outcome(Status.WARN, summary, details, [warn])
