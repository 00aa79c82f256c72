"""Pure parts of the service checks: command lines, cgroup files, memory and disk judgement."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cv_evaluator.config import Settings
from cv_evaluator.domain.clock import SystemClock
from cv_evaluator.ops.checks.service import (
    CgroupMemory,
    HostMemory,
    ProcessFigures,
    cgroup_memory,
    failed_readiness,
    judge_filesystem,
    judge_processes,
    largest_files,
    memory_bases,
    parse_proc_cgroup,
    service_role,
)
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.model import Status
from cv_evaluator.ops.resources import Forecast

GIB = 1024**3


def _ctx(**overrides: Any) -> OpsContext:
    return OpsContext(
        settings=Settings(**overrides),
        clock=SystemClock(),
        engine=create_async_engine("sqlite+aiosqlite://"),
    )


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        (
            ["/srv/.venv/bin/python3", "/srv/.venv/bin/cv-evaluator", "serve", "--port", "80"],
            "serve",
        ),
        (["/srv/.venv/bin/cv-evaluator", "worker", "--concurrency", "4"], "worker"),
        (["python", "-m", "cv_evaluator.cli", "serve"], "serve"),
        (["python", "-X", "dev", "-m", "cv_evaluator", "worker"], "worker"),
        (["/srv/.venv/bin/python3", "/srv/.venv/bin/cv-evaluator", "maint", "check"], None),
        (["/srv/.venv/bin/python3", "/srv/.venv/bin/cv-evaluator"], None),
        (["vim", "notes.txt", "x", "y", "cv-evaluator", "serve"], None),
        # A wrapper that starts the service is not the service.
        (["timeout", "60", "/srv/.venv/bin/cv-evaluator", "serve"], None),
        (["nohup", "/srv/.venv/bin/cv-evaluator", "worker"], None),
        (["python", "-m", "pytest", "serve"], None),
        ([], None),
    ],
)
def test_service_role_from_command_line(cmdline: list[str], role: str | None) -> None:
    assert service_role(cmdline) == role


def test_parse_proc_cgroup_v1_and_v2() -> None:
    hybrid = "9:name=systemd:/\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n"
    assert parse_proc_cgroup(hybrid) == ("/", "/docker/abc")
    assert parse_proc_cgroup("0::/system.slice/cv.service\n") == ("/system.slice/cv.service", None)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_limit_usage_and_working_set(tmp_path: Path) -> None:
    _write(tmp_path / "cgroup.controllers", "cpu memory pids\n")
    unit = tmp_path / "system.slice" / "cv.service"
    _write(unit / "memory.max", "1073741824\n")
    _write(unit / "memory.current", "805306368\n")
    _write(unit / "memory.stat", "anon 500000000\ninactive_file 268435456\nactive_file 1\n")
    memory = cgroup_memory("0::/system.slice/cv.service\n", tmp_path)
    assert memory == CgroupMemory(
        version=2,
        path=str(unit),
        limit_bytes=1073741824,
        usage_bytes=805306368,
        inactive_file_bytes=268435456,
    )
    assert memory.working_set_bytes == 536870912


def test_cgroup_v2_max_means_no_limit(tmp_path: Path) -> None:
    _write(tmp_path / "cgroup.controllers", "memory\n")
    _write(tmp_path / "memory.max", "max\n")
    _write(tmp_path / "memory.current", "123\n")
    assert cgroup_memory("0::/\n", tmp_path) is None


def test_cgroup_v2_parent_limit_binds_the_child(tmp_path: Path) -> None:
    _write(tmp_path / "cgroup.controllers", "memory\n")
    _write(tmp_path / "app" / "memory.max", "2000\n")
    _write(tmp_path / "app" / "memory.current", "1500\n")
    _write(tmp_path / "app" / "web" / "memory.max", "max\n")
    memory = cgroup_memory("0::/app/web\n", tmp_path)
    assert memory is not None and memory.limit_bytes == 2000 and memory.usage_bytes == 1500


def test_cgroup_path_missing_inside_a_container_uses_the_mounted_root(tmp_path: Path) -> None:
    # A container without a cgroup namespace: /proc says /docker/abc, the mount is its root.
    _write(tmp_path / "cgroup.controllers", "memory\n")
    _write(tmp_path / "memory.max", "4096\n")
    _write(tmp_path / "memory.current", "1024\n")
    memory = cgroup_memory("0::/docker/abc\n", tmp_path)
    assert memory is not None and memory.path == str(tmp_path) and memory.limit_bytes == 4096


def test_cgroup_v1_limit_and_unlimited(tmp_path: Path) -> None:
    group = tmp_path / "memory" / "docker" / "abc"
    _write(tmp_path / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    _write(group / "memory.limit_in_bytes", "536870912\n")
    _write(group / "memory.usage_in_bytes", "402653184\n")
    _write(group / "memory.stat", "cache 1\ninactive_file 5\ntotal_inactive_file 134217728\n")
    memory = cgroup_memory("4:memory:/docker/abc\n0::/\n", tmp_path)
    assert memory is not None
    assert (memory.version, memory.limit_bytes, memory.working_set_bytes) == (
        1,
        536870912,
        268435456,
    )
    assert cgroup_memory("4:memory:/\n", tmp_path) is None  # the root: "no limit" value


def test_no_cgroup_files_means_no_limit(tmp_path: Path) -> None:
    assert cgroup_memory("0::/\n", tmp_path) is None


def _process(
    pid: int, *, cpu: float = 1.0, rss: int = GIB, memory: CgroupMemory | None = None
) -> ProcessFigures:
    return ProcessFigures(
        pid=pid,
        role="serve",
        uptime_seconds=60,
        threads=4,
        cpu_percent=cpu,
        rss_bytes=rss,
        memory=memory,
    )


def test_memory_is_judged_per_cgroup_and_against_host_ram() -> None:
    limited = CgroupMemory(2, "/sys/fs/cgroup/a", 4 * GIB, 4 * GIB, GIB)
    bases = memory_bases(
        [_process(1, memory=limited), _process(2, memory=limited), _process(3)],
        HostMemory(total_bytes=16 * GIB, available_bytes=12 * GIB),
    )
    assert [(b.name, b.ratio, b.pids) for b in bases] == [
        ("cgroup v2 /sys/fs/cgroup/a", 0.75, (1, 2)),
        ("host RAM", 0.25, (3,)),
    ]


def test_judge_processes_memory_critical_and_cpu_warn() -> None:
    ctx = _ctx(maint_process_cpu_warn_percent=90)
    limited = CgroupMemory(2, "/sys/fs/cgroup/a", 4 * GIB, 4 * GIB, 0)
    outcome = judge_processes(
        ctx,
        [_process(10, cpu=120.0, memory=limited), _process(11, cpu=5.0, memory=limited)],
        HostMemory(16 * GIB, 8 * GIB),
    )
    assert outcome.status is Status.CRITICAL
    assert outcome.summary.startswith("memory 100% of cgroup v2 /sys/fs/cgroup/a")
    assert "serve pid 10 at 120% CPU" in outcome.summary
    assert outcome.details["memory_ratio"] == 1.0
    assert {t.setting for t in outcome.thresholds} == {
        "MAINT_PROCESS_CPU_WARN_PERCENT",
        "MAINT_MEMORY_WARN_RATIO",
        "MAINT_MEMORY_CRITICAL_RATIO",
    }


def test_judge_processes_ok() -> None:
    outcome = judge_processes(
        _ctx(), [_process(10, cpu=3.0, rss=GIB)], HostMemory(16 * GIB, 12 * GIB)
    )
    assert outcome.status is Status.OK
    assert outcome.summary == (
        "1 process(es) (serve pid 10), 1.0 GiB resident; busiest 3% CPU; memory 25% of host RAM"
    )


def test_failed_readiness_names_the_failed_checks() -> None:
    body = {
        "status": "not_ready",
        "checks": {
            "database": {"ok": False, "reason": "not migrated"},
            "disk": {"ok": True},
            "evaluator": {"ok": False},
        },
    }
    assert failed_readiness(body) == {"database": "not migrated", "evaluator": "not ok"}
    assert failed_readiness("gateway error") == {}


def _disk_thresholds() -> list[Any]:
    ctx = _ctx(
        maint_disk_warn_free_ratio=0.2,
        maint_disk_critical_free_ratio=0.1,
        maint_disk_forecast_warn_days=14,
        maint_disk_forecast_critical_days=2,
    )
    return [
        ctx.threshold("maint_disk_warn_free_ratio", "warn below"),
        ctx.threshold("maint_disk_critical_free_ratio", "critical below"),
        ctx.threshold("maint_disk_forecast_warn_days", "warn within"),
        ctx.threshold("maint_disk_forecast_critical_days", "critical within"),
    ]


def _figures(free_ratio: float, inodes_ratio: float | None = 0.9) -> dict[str, Any]:
    return {
        "total_bytes": 100 * GIB,
        "free_bytes": int(100 * GIB * free_ratio),
        "free_ratio": free_ratio,
        "inodes_total": 1000,
        "inodes_free": None if inodes_ratio is None else int(1000 * inodes_ratio),
        "inodes_free_ratio": inodes_ratio,
    }


NO_FORECAST = Forecast(1, 0.0, None, None, "needs at least two samples")


def test_filesystem_space_inodes_and_forecast() -> None:
    thresholds = _disk_thresholds()
    assert judge_filesystem(["data"], _figures(0.5), NO_FORECAST, thresholds) == (Status.OK, [])
    status, problems = judge_filesystem(
        ["data", "backups"], _figures(0.15), NO_FORECAST, thresholds
    )
    assert status is Status.WARN
    assert problems == ["data+backups: 15.0% free (15.0 GiB of 100.0 GiB)"]
    status, problems = judge_filesystem(["logs"], _figures(0.5, 0.05), NO_FORECAST, thresholds)
    assert status is Status.CRITICAL and "inodes free (50 of 1000)" in problems[0]
    filling = Forecast(5, 48.0, 30.0 * GIB, 1.5)
    status, problems = judge_filesystem(["data"], _figures(0.5, None), filling, thresholds)
    assert status is Status.CRITICAL
    assert problems == ["data: full in 1.5 days at the current rate (30.0 GiB/day)"]
    slow = Forecast(5, 48.0, GIB, 10.0)
    assert judge_filesystem(["data"], _figures(0.5), slow, thresholds)[0] is Status.WARN


def test_largest_files_are_listed_biggest_first() -> None:
    def stat(size: int) -> os.stat_result:
        return os.stat_result((0o100644, 1, 1, 1, 0, 0, size, 0, 1_700_000_000, 0))

    root = Path("/var/log/cv")
    files = [(root / f"f{size}.log", stat(size)) for size in (5, 50, 1, 500, 10, 20, 7)]
    listed = largest_files(files, root)
    assert [f["path"] for f in listed] == ["f500.log", "f50.log", "f20.log", "f10.log", "f7.log"]
    assert listed[0]["modified"] == "2023-11-14T22:13:20+00:00"
