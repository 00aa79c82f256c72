"""`maint drill`: the disaster-recovery test, end to end, on a restored copy.

backup → verify by restoring into scratch → start a service on that copy on another port → smoke
test → RTO and RPO. With ``--failover`` the drill also kills that service's process (its
in-process workers die with it) while it is working through a load, starts another, and shows
every job reaching a terminal state once the leases of the dead workers expire.

Everything runs against the scratch copy, never the live database or queue: the drill service
uses the database queue whatever the live deployment uses, so no Kafka topic is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from cv_evaluator.ops.backup import backend_of, create_backup, restore_files, verify_backup
from cv_evaluator.ops.backup_store import Backup, list_backups
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.figures import figures
from cv_evaluator.ops.probe import ServiceProbe
from cv_evaluator.ops.runs import FAILED, MaintenanceLog, MaintenanceRun
from cv_evaluator.ops.schedules import Schedule
from cv_evaluator.service.maintenance import MaintenanceService
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.maintenance import SqlMaintenanceStore
from cv_evaluator.storage.tables import jobs

DRILL_SCHEDULE = "quarterly"
READY_TIMEOUT_SECONDS = 60.0
# Short leases on the drill service so that work held by a killed process is taken over in
# seconds, not in the production lease time.
DRILL_LEASE_SECONDS = 5.0
FAILOVER_TIMEOUT_SECONDS = 180.0
LOG_TAIL_CHARS = 1500


@dataclass(slots=True)
class DrillOutcome:
    steps: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def step(
        self,
        name: str,
        ok: bool,
        summary: str,
        seconds: float,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.steps.append(
            {
                "step": name,
                "status": "ok" if ok else "failed",
                "summary": summary,
                "seconds": round(seconds, 2),
                "details": details or {},
            }
        )
        if not ok:
            self.problems.append(f"{name}: {summary}")


async def _nothing_in_flight() -> int:
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DrillService:
    """A `cv-evaluator serve` process on the restored copy."""

    def __init__(self, database_url: str, data_dir: Path, name: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"{name}.log"
        self._env = {
            **os.environ,
            "DB_URL": database_url,
            "DATA_DIR": str(data_dir),
            "QUEUE_BACKEND": "db",
            "APP_WORKERS": "2",
            "JOB_LEASE_SECONDS": str(DRILL_LEASE_SECONDS),
            "WORKER_POLL_INTERVAL_SECONDS": "0.2",
            "LOG_FORMAT": "json",
            "MAINT_MONITOR_INTERVAL_SECONDS": "3600",
        }
        # The drill's logs go to its own file, not into the live service's log directory.
        self._env.pop("LOG_DIR", None)
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cv_evaluator",
                "serve",
                "--no-migrate",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                env=self._env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.returncode is not None:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return True
                await asyncio.sleep(0.2)
        return False

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    async def kill(self) -> None:
        """SIGKILL: a crash, nothing released cleanly."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def stop(self) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), timeout=20)
        except TimeoutError:
            await self.kill()


class Drill:
    def __init__(
        self,
        ctx: OpsContext,
        *,
        schedules: dict[str, Schedule],
        failover: bool,
        failover_jobs: int,
        probe_timeout_seconds: float,
        smoke_timeout_seconds: float,
    ) -> None:
        self._ctx = ctx
        self._schedules = schedules
        self._failover = failover
        self._failover_jobs = failover_jobs
        self._probe_timeout = probe_timeout_seconds
        self._smoke_timeout = smoke_timeout_seconds
        self._outcome = DrillOutcome()
        self._service_seconds: float | None = None
        self._copy_seconds = 0.0

    async def run(self) -> MaintenanceRun:
        log = MaintenanceLog(self._ctx)
        run_id = await log.start(
            DRILL_SCHEDULE, dry_run=False, before=await figures(self._ctx), kind="drill"
        )
        started = time.perf_counter()
        status = FAILED
        try:
            await self._drill(run_id)
            status = "ok" if not self._outcome.problems else FAILED
        finally:
            await asyncio.shield(
                log.update(
                    run_id,
                    status=status,
                    finished_at=self._ctx.clock.now(),
                    duration_seconds=round(time.perf_counter() - started, 3),
                    checks={"drill": {**self._outcome.figures, "steps": self._outcome.steps}},
                    issues=[
                        {"source": "drill", "status": "failed", "summary": p}
                        for p in self._outcome.problems
                    ],
                    after=await figures(self._ctx),
                )
            )
        return await log.get(run_id)

    async def _drill(self, run_id: str) -> None:
        outcome = self._outcome
        disaster_at = self._ctx.clock.now()
        previous = await asyncio.to_thread(self._newest_verified)
        begun = time.perf_counter()
        backup = await create_backup(self._ctx, reason=f"drill {run_id}")
        outcome.step(
            "backup",
            True,
            f"backup {backup.id} taken",
            time.perf_counter() - begun,
            {"id": backup.id},
        )
        begun = time.perf_counter()
        verification = await verify_backup(self._ctx, backup.id, after_compare=self._on_copy)
        # The service steps ran inside the verification (on its scratch copy): not its time.
        verify_seconds = time.perf_counter() - begun - self._copy_seconds
        outcome.step(
            "verify",
            verification.ok,
            (
                f"restored into scratch in {verification.restore_seconds} s; row counts, "
                "checksums and references match the manifest"
                if verification.ok
                else "; ".join(verification.problems[:3])
            ),
            verify_seconds,
            verification.as_dict(),
        )
        rto = None
        if verification.rto_seconds is not None and self._service_seconds is not None:
            rto = round(verification.rto_seconds + self._service_seconds, 2)
        outcome.figures.update(
            backup_id=backup.id,
            rto_seconds=rto,
            restore_seconds=verification.restore_seconds,
            files_seconds=verification.files_seconds,
            service_seconds=self._service_seconds,
            **await self._rpo(previous, backup, disaster_at),
        )

    def _newest_verified(self) -> Backup | None:
        listing = list_backups(self._ctx.settings.backup_dir)
        verified = listing.verified(backend_of(self._ctx))
        return verified[-1] if verified else None

    async def _rpo(
        self, previous: Backup | None, backup: Backup, disaster_at: datetime
    ) -> dict[str, Any]:
        """What a disaster at the drill's start would have lost, and at worst under the plan."""
        with_backup = [s for s in self._schedules.values() if "backup" in s.tasks]
        period = min((s.every_days for s in with_backup), default=None)
        lost_jobs = None
        if previous is not None:
            async with self._ctx.engine.connect() as connection:
                lost_jobs = int(
                    (
                        await connection.execute(
                            select(func.count())
                            .select_from(jobs)
                            .where(jobs.c.created_at > previous.created_at)
                            .where(jobs.c.created_at <= disaster_at)
                        )
                    ).scalar_one()
                )
        return {
            "rpo_seconds": (
                round((disaster_at - previous.created_at).total_seconds(), 1) if previous else None
            ),
            "rpo_previous_backup_id": previous.id if previous else None,
            "rpo_jobs_since_previous_backup": lost_jobs,
            "rpo_worst_case_hours": period * 24 if period is not None else None,
            "drill_backup_lag_seconds": round((backup.created_at - disaster_at).total_seconds(), 1),
        }

    async def _on_copy(self, database_url: str, backup: Backup) -> None:
        """The restored copy exists: open it, start a service on it, test it, then let it go."""
        outcome = self._outcome
        entered = time.perf_counter()
        root = Path(tempfile.mkdtemp(dir=self._ctx.settings.backup_dir, prefix="drill-"))
        try:
            begun = time.perf_counter()
            await asyncio.to_thread(restore_files, backup, root / "uploads", True)
            await self._open_mode(database_url)
            service = DrillService(database_url, root, "service")
            await service.start()
            try:
                ready = await service.wait_ready(READY_TIMEOUT_SECONDS)
                ready_seconds = time.perf_counter() - begun
                outcome.step(
                    "start service",
                    ready,
                    f"ready on the restored copy at {service.base_url}"
                    if ready
                    else f"not ready after {READY_TIMEOUT_SECONDS:g} s: {service.log_tail()}",
                    ready_seconds,
                )
                if not ready:
                    return
                probe = ServiceProbe(service.base_url, timeout_seconds=self._probe_timeout)
                smoke = await probe.smoke_test(
                    bypass_token=None,
                    idempotency_key="drill-smoke",
                    timeout_seconds=self._smoke_timeout,
                )
                outcome.step(
                    "smoke test",
                    smoke.ok,
                    smoke.summary,
                    float(smoke.details.get("seconds", 0)),
                    smoke.details,
                )
                if smoke.ok:
                    self._service_seconds = round(time.perf_counter() - begun, 2)
                if self._failover:
                    await self._failover_test(database_url, root, service, probe)
            finally:
                await service.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
            self._copy_seconds = time.perf_counter() - entered

    async def _open_mode(self, database_url: str) -> None:
        """A backup taken during a window holds the mode on; the drill copy must take work."""
        engine = make_async_engine(database_url, pool_size=1)
        try:
            store = SqlMaintenanceStore(engine)
            if (await store.get()).enabled:
                # No service runs on the copy yet: nothing is in flight there.
                service = MaintenanceService(store, self._ctx.clock, in_flight=_nothing_in_flight)
                await service.stop(actor=self._ctx.actor, reason="drill copy opened")
        finally:
            await engine.dispose()

    async def _failover_test(
        self, database_url: str, root: Path, first: DrillService, probe: ServiceProbe
    ) -> None:
        outcome = self._outcome
        begun = time.perf_counter()
        submitted = await probe.submit_load(self._failover_jobs, "drill-failover")
        engine = make_async_engine(database_url, pool_size=1)
        try:
            at_kill = await self._statuses(engine, submitted)
            await first.kill()
            killed_at = time.perf_counter()
            second = DrillService(database_url, root, "takeover")
            await second.start()
            try:
                if not await second.wait_ready(READY_TIMEOUT_SECONDS):
                    outcome.step(
                        "failover",
                        False,
                        f"the second service did not start: {second.log_tail()}",
                        time.perf_counter() - begun,
                    )
                    return
                final = await self._settle(engine, submitted)
            finally:
                await second.stop()
        finally:
            await engine.dispose()
        takeover = round(time.perf_counter() - killed_at, 2)
        completed = final.get("completed", 0)
        lost = len(submitted) - completed - final.get("failed", 0)
        ok = completed == len(submitted)
        held = at_kill.get("processing", 0)
        summary = (
            f"{len(submitted)} jobs submitted; at the kill {at_kill.get('completed', 0)} were "
            f"done, {held} held by the killed workers, {at_kill.get('queued', 0)} queued; after "
            f"takeover {completed} completed, {final.get('failed', 0)} failed, {lost} lost, "
            f"all settled {takeover} s after the kill"
        )
        if held == 0:
            summary += " (no job was mid-evaluation at the kill: queued work was taken over)"
        outcome.step(
            "failover",
            ok,
            summary,
            time.perf_counter() - begun,
            {"at_kill": at_kill, "final": final, "takeover_seconds": takeover},
        )
        outcome.figures["failover"] = {
            "jobs": len(submitted),
            "at_kill": at_kill,
            "final": final,
            "takeover_seconds": takeover,
            "lost": lost,
        }

    @staticmethod
    async def _statuses(engine: Any, job_ids: list[str]) -> dict[str, int]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(jobs.c.status, func.count())
                .where(jobs.c.id.in_(job_ids))
                .group_by(jobs.c.status)
            )
            return {str(status): int(count) for status, count in rows.all()}

    async def _settle(self, engine: Any, job_ids: list[str]) -> dict[str, int]:
        deadline = time.monotonic() + FAILOVER_TIMEOUT_SECONDS
        while True:
            counts = await self._statuses(engine, job_ids)
            if counts.get("completed", 0) + counts.get("failed", 0) == len(job_ids):
                return counts
            if time.monotonic() > deadline:
                return counts
            await asyncio.sleep(0.5)
