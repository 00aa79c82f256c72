"""The maintenance-mode row and its audit trail in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cv_evaluator.domain.ids import IdKind, new_id
from cv_evaluator.domain.maintenance import MaintenanceAudit, MaintenanceState
from cv_evaluator.storage.errors import translated_errors
from cv_evaluator.storage.tables import maintenance_audit, maintenance_mode

_ROW_ID = 1


def _values(state: MaintenanceState) -> dict[str, Any]:
    assert state.updated_at is not None
    return {
        "enabled": state.enabled,
        "reason": state.reason,
        "started_by": state.started_by,
        "started_at": state.started_at,
        "ends_at": state.ends_at,
        "retry_after_seconds": state.retry_after_seconds,
        "bypass_token_hash": state.bypass_token_hash,
        "bypass_expires_at": state.bypass_expires_at,
        "updated_at": state.updated_at,
        "workers_paused": state.workers_paused,
    }


class SqlMaintenanceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self) -> MaintenanceState:
        async with translated_errors(), self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(maintenance_mode).where(maintenance_mode.c.id == _ROW_ID)
                )
            ).first()
        if row is None:
            return MaintenanceState()
        values = dict(row._mapping)
        values.pop("id")
        return MaintenanceState(**values)

    async def put(self, state: MaintenanceState, audit: MaintenanceAudit) -> None:
        entry = {
            "id": new_id(IdKind.MAINTENANCE_CHANGE),
            "at": audit.at,
            "actor": audit.actor,
            "action": audit.action,
            "reason": audit.reason,
            "details": audit.details,
        }
        async with translated_errors(), self._engine.begin() as connection:
            changed = await connection.execute(
                update(maintenance_mode)
                .where(maintenance_mode.c.id == _ROW_ID)
                .values(**_values(state))
            )
            if changed.rowcount == 0:
                try:
                    async with connection.begin_nested():
                        await connection.execute(
                            insert(maintenance_mode).values(id=_ROW_ID, **_values(state))
                        )
                except IntegrityError:
                    # Another instance created the row meanwhile; ours is the later change.
                    await connection.execute(
                        update(maintenance_mode)
                        .where(maintenance_mode.c.id == _ROW_ID)
                        .values(**_values(state))
                    )
            await connection.execute(insert(maintenance_audit).values(**entry))

    async def audit(self, limit: int = 20) -> list[MaintenanceAudit]:
        query = select(maintenance_audit).order_by(maintenance_audit.c.id.desc()).limit(limit)
        async with translated_errors(), self._engine.begin() as connection:
            rows = (await connection.execute(query)).all()
        return [MaintenanceAudit(r.at, r.actor, r.action, r.reason, dict(r.details)) for r in rows]
