"""Checks of the service itself: its HTTP endpoints, its processes, its disks and its logs."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.grading import above, below
from cv_evaluator.ops.model import CheckSkipped, Outcome, Status, Threshold, worst
from cv_evaluator.ops.registry import check
from cv_evaluator.ops.resources import (
    DiskSample,
    Forecast,
    disk_figures,
    disk_history,
    existing_ancestor,
    forecast,
    watched_paths,
)

GROUP = "service"
# Where the cgroup hierarchy and the process table are mounted; unit tests point these at fake
# trees.
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_ROOT = Path("/proc")
# cgroup v1 reports "no limit" as the largest page-aligned 64-bit value; anything this large is
# no limit in practice.
_V1_UNLIMITED = 1 << 60
# Long enough for cpu_percent to see several scheduler ticks, short enough to keep the check cheap.
CPU_SAMPLE_SECONDS = 0.2
SERVICE_ROLES = ("serve", "worker")
_MODULE_NAMES = ("cv_evaluator", "cv_evaluator.cli")
NO_FORECAST = "no forecast yet: needs samples from maintenance runs over at least an hour"
LARGEST_LOG_FILES = 5


def human_bytes(value: float) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# --- HTTP endpoints -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Probe:
    url: str
    status_code: int | None
    elapsed_ms: float
    body: Any
    error: str | None


async def _get(ctx: OpsContext, path: str) -> _Probe:
    url = f"{ctx.settings.service_base_url}{path}"
    timeout = ctx.settings.maint_http_timeout_seconds
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
    except httpx.TimeoutException:
        elapsed = (time.perf_counter() - started) * 1000
        return _Probe(url, None, elapsed, None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        reason = str(exc).strip() or type(exc).__name__
        return _Probe(url, None, elapsed, None, f"unreachable: {reason}")
    elapsed = (time.perf_counter() - started) * 1000
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    return _Probe(url, response.status_code, elapsed, body, None)


def _http_thresholds(ctx: OpsContext) -> list[Threshold]:
    return [
        ctx.threshold("maint_http_warn_ms", "warn above", "ms"),
        ctx.threshold("maint_http_timeout_seconds", "critical when no answer within", "s"),
    ]


def failed_readiness(body: Any) -> dict[str, str]:
    """The readiness checks that failed in a `/readyz` body, with their reasons."""
    checks = body.get("checks") if isinstance(body, dict) else None
    if not isinstance(checks, dict):
        return {}
    failed = {}
    for name, result in checks.items():
        if isinstance(result, dict) and not result.get("ok"):
            failed[str(name)] = str(result.get("reason") or "not ok")
    return failed


def _endpoint_outcome(ctx: OpsContext, probe: _Probe, *, readiness: bool) -> Outcome:
    thresholds = _http_thresholds(ctx)
    details: dict[str, Any] = {
        "url": probe.url,
        "status_code": probe.status_code,
        "elapsed_ms": round(probe.elapsed_ms, 1),
    }
    if probe.error is not None:
        details["error"] = probe.error
        return Outcome(
            Status.CRITICAL,
            f"GET {probe.url} failed: {probe.error}; is the service running on this address "
            "(MAINT_BASE_URL)?",
            details,
            thresholds,
        )
    if readiness:
        details["body"] = probe.body
    answered = f"GET {probe.url} answered {probe.status_code} in {probe.elapsed_ms:.0f} ms"
    if probe.status_code != 200:
        failed = failed_readiness(probe.body) if readiness else {}
        details["failed_checks"] = failed
        reasons = ", ".join(f"{name} ({reason})" for name, reason in failed.items())
        return Outcome(
            Status.CRITICAL,
            f"{answered}: not ready: {reasons}" if reasons else answered,
            details,
            thresholds,
        )
    status = above(probe.elapsed_ms, thresholds[0])
    if status is Status.WARN:
        return Outcome(
            status,
            f"{answered}, slower than {ctx.settings.maint_http_warn_ms:g} ms; look at the "
            "process's CPU (service.processes) and the database",
            details,
            thresholds,
        )
    return Outcome(Status.OK, answered, details, thresholds)


@check(
    "service.healthz",
    group=GROUP,
    description="Liveness: GET /healthz answers 200, and how fast.",
)
async def healthz(ctx: OpsContext) -> Outcome:
    return _endpoint_outcome(ctx, await _get(ctx, "/healthz"), readiness=False)


@check(
    "service.readyz",
    group=GROUP,
    description="Readiness: GET /readyz answers 200 (database, queue, evaluator, disk), and "
    "how fast.",
)
async def readyz(ctx: OpsContext) -> Outcome:
    return _endpoint_outcome(ctx, await _get(ctx, "/readyz"), readiness=True)


# --- processes and memory -------------------------------------------------------------------


def service_role(cmdline: Sequence[str]) -> str | None:
    """``serve`` or ``worker`` when the command line runs that `cv-evaluator` command.

    Matches the console script (``.../python .../bin/cv-evaluator serve``, as the kernel expands
    its shebang) and ``python -m cv_evaluator.cli serve``; only the first arguments are looked
    at, so a command that merely mentions the name (an editor, ``grep``) is not taken for one.
    """
    rest: Sequence[str] | None = None
    for index, arg in enumerate(cmdline[:4]):
        # Wrappers such as `timeout`, `nohup` or `sudo` name the command too, but are not it:
        # the service process is the script itself or the Python interpreter running it.
        if index > 0 and not Path(cmdline[0]).name.startswith("python"):
            break
        if Path(arg).name == "cv-evaluator":
            rest = cmdline[index + 1 :]
            break
        if arg == "-m" and index + 1 < len(cmdline) and cmdline[index + 1] in _MODULE_NAMES:
            rest = cmdline[index + 2 :]
            break
    if rest is None:
        return None
    command = next((arg for arg in rest if not arg.startswith("-")), None)
    return command if command in SERVICE_ROLES else None


def find_service_processes() -> list[psutil.Process]:
    """The `cv-evaluator serve` and `worker` processes on this machine (not this process)."""
    found = []
    own = os.getpid()
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if process.pid != own and service_role(cmdline) is not None:
            found.append(process)
    return found


@dataclass(frozen=True, slots=True)
class CgroupMemory:
    """The memory limit that binds a process, and the usage it is charged against."""

    version: int
    path: str
    limit_bytes: int
    usage_bytes: int
    inactive_file_bytes: int

    @property
    def working_set_bytes(self) -> int:
        # What the kernel cannot simply drop under pressure: the figure the OOM killer and
        # container orchestrators (kubelet) judge, unlike usage, which counts page cache too.
        return max(0, self.usage_bytes - self.inactive_file_bytes)


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _text(path)
    return int(text) if text is not None and text.isdigit() else None


def _stat_value(path: Path, keys: Sequence[str]) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    values = dict(line.split(maxsplit=1) for line in lines if " " in line)
    for key in keys:
        if key in values and values[key].strip().isdigit():
            return int(values[key])
    return 0


def _ancestors(base: Path, relative: str) -> list[Path]:
    """``base/relative`` and each parent up to ``base``, the ones that exist."""
    parts = [p for p in relative.strip("/").split("/") if p]
    candidates = [base.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]
    return [c for c in candidates if c.is_dir()]


def parse_proc_cgroup(text: str) -> tuple[str | None, str | None]:
    """(cgroup v2 path, cgroup v1 memory controller path) from ``/proc/<pid>/cgroup``."""
    unified = memory = None
    for line in text.splitlines():
        fields = line.strip().split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":
            unified = path
        elif "memory" in controllers.split(","):
            memory = path
    return unified, memory


def cgroup_memory(proc_cgroup: str, root: Path = CGROUP_ROOT) -> CgroupMemory | None:
    """The tightest memory limit over the process's cgroup and its ancestors; None: unlimited.

    A limit set on a parent binds its children too, so every level is read. In a container the
    process's own cgroup is usually mounted as the root, and the path from ``/proc`` does not
    exist below it: the levels that do not exist are passed over.
    """
    unified, memory = parse_proc_cgroup(proc_cgroup)
    found: list[CgroupMemory] = []
    if (root / "cgroup.controllers").is_file():
        for directory in _ancestors(root, unified or "/"):
            raw = _text(directory / "memory.max")
            if raw is None or raw == "max" or not raw.isdigit():
                continue
            found.append(
                CgroupMemory(
                    version=2,
                    path=str(directory),
                    limit_bytes=int(raw),
                    usage_bytes=_read_int(directory / "memory.current") or 0,
                    inactive_file_bytes=_stat_value(directory / "memory.stat", ["inactive_file"]),
                )
            )
    elif (root / "memory").is_dir():
        for directory in _ancestors(root / "memory", memory or "/"):
            limit = _read_int(directory / "memory.limit_in_bytes")
            if limit is None or limit >= _V1_UNLIMITED:
                continue
            found.append(
                CgroupMemory(
                    version=1,
                    path=str(directory),
                    limit_bytes=limit,
                    usage_bytes=_read_int(directory / "memory.usage_in_bytes") or 0,
                    inactive_file_bytes=_stat_value(
                        directory / "memory.stat", ["total_inactive_file", "inactive_file"]
                    ),
                )
            )
    return min(found, key=lambda c: c.limit_bytes, default=None)


def process_cgroup_memory(
    pid: int, *, root: Path = CGROUP_ROOT, proc: Path = PROC_ROOT
) -> CgroupMemory | None:
    text = _text(proc / str(pid) / "cgroup")
    return None if text is None else cgroup_memory(text, root)


@dataclass(slots=True)
class ProcessFigures:
    pid: int
    role: str
    uptime_seconds: float
    threads: int
    cpu_percent: float
    rss_bytes: int
    # The process's descendants (the local evaluator's scoring pool): their memory is the
    # service's too, and their CPU says how busy scoring is.
    helpers: int = 0
    helpers_cpu_percent: float = 0.0
    helpers_rss_bytes: int = 0
    memory: CgroupMemory | None = None
    handles: list[psutil.Process] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "role": self.role,
            "uptime_seconds": round(self.uptime_seconds),
            "threads": self.threads,
            "cpu_percent": round(self.cpu_percent, 1),
            "rss_bytes": self.rss_bytes,
            "helpers": self.helpers,
            "helpers_cpu_percent": round(self.helpers_cpu_percent, 1),
            "helpers_rss_bytes": self.helpers_rss_bytes,
            "cgroup": None if self.memory is None else self.memory.path,
        }


@dataclass(frozen=True, slots=True)
class MemoryBasis:
    """What memory use is judged against: a cgroup limit, or the machine's RAM."""

    name: str  # "cgroup v2 /sys/fs/cgroup/..." or "host RAM"
    limit_bytes: int
    used_bytes: int
    pids: tuple[int, ...]

    @property
    def ratio(self) -> float:
        return self.used_bytes / self.limit_bytes if self.limit_bytes else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "basis": self.name,
            "limit_bytes": self.limit_bytes,
            "used_bytes": self.used_bytes,
            "ratio": round(self.ratio, 4),
            "pids": list(self.pids),
        }


@dataclass(frozen=True, slots=True)
class HostMemory:
    total_bytes: int
    available_bytes: int


def memory_bases(processes: Sequence[ProcessFigures], host: HostMemory) -> list[MemoryBasis]:
    """Group the processes by the limit that binds them.

    Inside a cgroup with a limit, usage is the cgroup's working set (everything charged to it,
    as the OOM killer sees it). Without one, it is the machine's memory in use (total minus
    available): the service is killed when the machine runs out, whoever used the memory.
    """
    by_cgroup: dict[str, tuple[CgroupMemory, list[int]]] = {}
    unlimited: list[int] = []
    for figures in processes:
        if figures.memory is None:
            unlimited.append(figures.pid)
        else:
            entry = by_cgroup.setdefault(figures.memory.path, (figures.memory, []))
            entry[1].append(figures.pid)
    bases = [
        MemoryBasis(
            f"cgroup v{memory.version} {path}",
            memory.limit_bytes,
            memory.working_set_bytes,
            tuple(pids),
        )
        for path, (memory, pids) in by_cgroup.items()
    ]
    if unlimited:
        bases.append(
            MemoryBasis(
                "host RAM",
                host.total_bytes,
                host.total_bytes - host.available_bytes,
                tuple(unlimited),
            )
        )
    return bases


def _sample_processes(
    processes: Sequence[psutil.Process], cgroup_root: Path, proc_root: Path
) -> list[ProcessFigures]:
    now = time.time()
    sampled = []
    for process in processes:
        try:
            with process.oneshot():
                role = service_role(process.cmdline()) or "unknown"
                figures = ProcessFigures(
                    pid=process.pid,
                    role=role,
                    uptime_seconds=now - process.create_time(),
                    threads=process.num_threads(),
                    cpu_percent=0.0,
                    rss_bytes=process.memory_info().rss,
                    memory=process_cgroup_memory(process.pid, root=cgroup_root, proc=proc_root),
                )
            figures.handles = [process, *process.children(recursive=True)]
            for handle in figures.handles:
                handle.cpu_percent(None)  # the first call only starts the measurement
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        sampled.append(figures)
    return sampled


def _finish_sample(figures: ProcessFigures) -> None:
    main, *helpers = figures.handles
    try:
        figures.cpu_percent = main.cpu_percent(None)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        figures.cpu_percent = 0.0
    for helper in helpers:
        try:
            cpu = helper.cpu_percent(None)
            rss = helper.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        figures.helpers += 1
        figures.helpers_cpu_percent += cpu
        figures.helpers_rss_bytes += rss


def judge_processes(
    ctx: OpsContext, processes: Sequence[ProcessFigures], host: HostMemory
) -> Outcome:
    cpu_warn = ctx.threshold("maint_process_cpu_warn_percent", "warn above", "%")
    memory_warn = ctx.threshold("maint_memory_warn_ratio", "warn above", "of the limit")
    memory_critical = ctx.threshold("maint_memory_critical_ratio", "critical above", "of the limit")
    thresholds = [cpu_warn, memory_warn, memory_critical]
    bases = memory_bases(processes, host)
    problems: list[tuple[Status, str]] = []
    for basis in bases:
        status = above(basis.ratio, memory_warn, memory_critical)
        if status is not Status.OK:
            problems.append(
                (
                    status,
                    f"memory {basis.ratio:.0%} of {basis.name} "
                    f"({human_bytes(basis.used_bytes)} of {human_bytes(basis.limit_bytes)})",
                )
            )
    for figures in sorted(processes, key=lambda p: -p.cpu_percent):
        if above(figures.cpu_percent, cpu_warn) is Status.WARN:
            problems.append(
                (
                    Status.WARN,
                    f"{figures.role} pid {figures.pid} at {figures.cpu_percent:.0f}% CPU",
                )
            )
    service_rss = sum(p.rss_bytes + p.helpers_rss_bytes for p in processes)
    details: dict[str, Any] = {
        "processes": [p.as_dict() for p in processes],
        "memory": [b.as_dict() for b in bases],
        "memory_ratio": round(max((b.ratio for b in bases), default=0.0), 4),
        "service_rss_bytes": service_rss,
        "host_memory_total_bytes": host.total_bytes,
        "host_memory_available_bytes": host.available_bytes,
        "cpu_sample_seconds": CPU_SAMPLE_SECONDS,
    }
    roles = ", ".join(f"{p.role} pid {p.pid}" for p in processes)
    status = worst([s for s, _ in problems])
    if problems:
        problems.sort(key=lambda item: -item[0].severity)
        summary = "; ".join(text for _, text in problems) + f" (processes: {roles})"
        if any(text.startswith("memory") for _, text in problems):
            summary += (
                "; see which process grows (rss, helpers_rss_bytes), then raise the limit or "
                "lower APP_WORKERS/AI_LOCAL_PROCESSES"
            )
        else:
            summary += "; the process is saturated: add worker processes or machines"
    else:
        busiest = max(processes, key=lambda p: p.cpu_percent)
        top_basis = max(bases, key=lambda b: b.ratio)
        summary = (
            f"{len(processes)} process(es) ({roles}), {human_bytes(service_rss)} resident; "
            f"busiest {busiest.cpu_percent:.0f}% CPU; memory {top_basis.ratio:.0%} of "
            f"{top_basis.name}"
        )
    return Outcome(status, summary, details, thresholds)


ProcessFinder = Callable[[], list[psutil.Process]]


async def process_outcome(
    ctx: OpsContext,
    *,
    finder: ProcessFinder = find_service_processes,
    cgroup_root: Path | None = None,
    proc_root: Path | None = None,
) -> Outcome:
    processes = await asyncio.to_thread(finder)
    if not processes:
        raise CheckSkipped("no cv-evaluator process on this host")
    sampled = await asyncio.to_thread(
        _sample_processes, processes, cgroup_root or CGROUP_ROOT, proc_root or PROC_ROOT
    )
    if not sampled:
        raise CheckSkipped("no cv-evaluator process on this host")
    await asyncio.sleep(CPU_SAMPLE_SECONDS)
    for figures in sampled:
        _finish_sample(figures)
    memory = psutil.virtual_memory()
    host = HostMemory(total_bytes=memory.total, available_bytes=memory.available)
    return judge_processes(ctx, sampled, host)


@check(
    "service.processes",
    group=GROUP,
    description="CPU and memory of the serve/worker processes on this host, against the "
    "cgroup memory limit (else RAM).",
)
async def processes(ctx: OpsContext) -> Outcome:
    return await process_outcome(ctx)


# --- disks ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Filesystem:
    device: int
    paths: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def _ratio(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def judge_filesystem(
    labels: Sequence[str],
    figures: Mapping[str, Any],
    prediction: Forecast,
    thresholds: Sequence[Threshold],
) -> tuple[Status, list[str]]:
    """The status of one filesystem and what is wrong with it, in words."""
    free_warn, free_critical, days_warn, days_critical = thresholds
    name = "+".join(labels)
    problems: list[tuple[Status, str]] = []
    free_ratio = _ratio(figures.get("free_ratio"))
    if free_ratio is not None:
        status = below(free_ratio, free_warn, free_critical)
        if status is not Status.OK:
            problems.append(
                (
                    status,
                    f"{name}: {free_ratio:.1%} free ({human_bytes(figures['free_bytes'])} of "
                    f"{human_bytes(figures['total_bytes'])})",
                )
            )
    inodes_ratio = _ratio(figures.get("inodes_free_ratio"))
    if inodes_ratio is not None:
        status = below(inodes_ratio, free_warn, free_critical)
        if status is not Status.OK:
            problems.append(
                (
                    status,
                    f"{name}: {inodes_ratio:.1%} of inodes free ({figures['inodes_free']} of "
                    f"{figures['inodes_total']})",
                )
            )
    if prediction.days_until_full is not None:
        status = below(prediction.days_until_full, days_warn, days_critical)
        if status is not Status.OK:
            problems.append(
                (
                    status,
                    f"{name}: full in {prediction.days_until_full:.1f} days at the current rate "
                    f"({human_bytes(prediction.growth_bytes_per_day or 0)}/day)",
                )
            )
    return worst([s for s, _ in problems]), [text for _, text in problems]


async def _histories(
    ctx: OpsContext, labels: Iterable[str]
) -> tuple[dict[str, list[DiskSample]], str | None]:
    """Past free-space samples per label, or why the maintenance log could not be read."""
    histories = {}
    try:
        for label in labels:
            histories[label] = await disk_history(ctx, label)
    except Exception as exc:  # a full disk often breaks the database too: still judge the disk
        cause = getattr(exc, "orig", None) or exc  # the driver's error, without SQL echo
        text = str(cause).strip().splitlines()
        return {}, f"{type(cause).__name__}: {text[0] if text else ''}".rstrip(": ")
    return histories, None


def _forecast(
    histories: Mapping[str, list[DiskSample]], labels: Sequence[str], now: DiskSample
) -> Forecast:
    # Labels on one filesystem share its free space; the one with the longest record is used.
    best: list[DiskSample] = []
    for label in labels:
        history = histories.get(label, [])
        if len(history) > len(best):
            best = history
    return forecast([*best, now])


@check(
    "service.disk",
    group=GROUP,
    description="Free space and inodes of the data, backup and log filesystems, and a forecast "
    "of when they fill up.",
)
async def disk(ctx: OpsContext) -> Outcome:
    thresholds = [
        ctx.threshold("maint_disk_warn_free_ratio", "warn below", "free"),
        ctx.threshold("maint_disk_critical_free_ratio", "critical below", "free"),
        ctx.threshold("maint_disk_forecast_warn_days", "warn when full within", "days"),
        ctx.threshold("maint_disk_forecast_critical_days", "critical when full within", "days"),
    ]
    filesystems: dict[int, _Filesystem] = {}
    notes = []
    for label, path in watched_paths(ctx).items():
        figures = await asyncio.to_thread(disk_figures, path)
        if not figures["exists"]:
            probe = existing_ancestor(path)
            notes.append(f"{label} ({path}) does not exist yet: judged on {probe}")
            figures["judged_on"] = str(probe)
        entry = filesystems.setdefault(figures["device"], _Filesystem(figures["device"]))
        entry.paths[label] = str(path)
        if not entry.figures:
            entry.figures = figures
    reports = []
    statuses = []
    problems: list[tuple[Status, str]] = []
    missing_forecast = False
    histories, log_error = await _histories(ctx, watched_paths(ctx))
    for entry in filesystems.values():
        labels = list(entry.paths)
        current = DiskSample(ctx.clock.now(), int(entry.figures["free_bytes"]))
        prediction = _forecast(histories, labels, current)
        status, texts = judge_filesystem(labels, entry.figures, prediction, thresholds)
        statuses.append(status)
        problems.extend((status, text) for text in texts)
        missing_forecast = missing_forecast or prediction.reason is not None
        forecast_details = prediction.as_dict()
        if log_error is not None:
            forecast_details["reason"] = (
                f"no forecast: the maintenance log is unreadable ({log_error})"
            )
        elif prediction.reason is not None:
            forecast_details["reason"] = f"{NO_FORECAST} ({prediction.reason})"
        reports.append(
            {
                "labels": labels,
                "paths": entry.paths,
                "status": status.value,
                "problems": texts,
                "total_bytes": entry.figures["total_bytes"],
                "free_bytes": entry.figures["free_bytes"],
                "free_ratio": _rounded(entry.figures["free_ratio"]),
                "inodes_total": entry.figures["inodes_total"],
                "inodes_free": entry.figures["inodes_free"],
                "inodes_free_ratio": _rounded(entry.figures["inodes_free_ratio"]),
                "forecast": forecast_details,
            }
        )
    free_ratios = [r["free_ratio"] for r in reports if r["free_ratio"] is not None]
    inode_ratios = [r["inodes_free_ratio"] for r in reports if r["inodes_free_ratio"] is not None]
    details: dict[str, Any] = {
        "filesystems": reports,
        "min_free_ratio": min(free_ratios, default=None),
        "min_inodes_free_ratio": min(inode_ratios, default=None),
        "notes": notes,
    }
    status = worst(statuses)
    if problems:
        problems.sort(key=lambda item: -item[0].severity)
        summary = "; ".join(text for _, text in problems)
    else:
        tightest = min(reports, key=lambda r: r["free_ratio"] if r["free_ratio"] is not None else 1)
        summary = (
            f"lowest free space: {'+'.join(tightest['labels'])} {tightest['free_ratio']:.1%} "
            f"({human_bytes(tightest['free_bytes'])} of {human_bytes(tightest['total_bytes'])})"
        )
    if log_error is not None:
        summary += f"; no forecast: the maintenance log is unreadable ({log_error})"
    elif missing_forecast:
        summary += f"; {NO_FORECAST}"
    return Outcome(status, summary, details, thresholds)


def _rounded(value: Any) -> float | None:
    return round(float(value), 4) if isinstance(value, int | float) else None


# --- logs -----------------------------------------------------------------------------------


def _log_files(directory: Path) -> list[tuple[Path, os.stat_result]]:
    files = []
    for path in directory.rglob("*"):
        try:
            if path.is_symlink() or not path.is_file():
                continue
            files.append((path, path.stat()))
        except OSError:
            continue  # rotated away while we looked
    return files


def largest_files(
    files: Iterable[tuple[Path, os.stat_result]], root: Path, count: int = LARGEST_LOG_FILES
) -> list[dict[str, Any]]:
    ordered = sorted(files, key=lambda item: -item[1].st_size)[:count]
    return [
        {
            "path": str(path.relative_to(root)),
            "bytes": stat.st_size,
            "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds"),
        }
        for path, stat in ordered
    ]


@check(
    "service.logs",
    group=GROUP,
    description="Size of LOG_DIR and its largest files.",
)
async def logs(ctx: OpsContext) -> Outcome:
    directory = ctx.settings.log_dir
    if directory is None:
        raise CheckSkipped("LOG_DIR is not set: logs go to stdout only")
    warn = ctx.threshold("maint_log_dir_warn_mb", "warn above", "MiB")
    thresholds = [warn]
    if not directory.is_dir():
        if directory.exists():
            problem = "is not a directory: the service cannot write its log files there"
        else:
            # The service creates it when it starts: no process with this LOG_DIR ran here.
            problem = (
                "does not exist: no service process with this LOG_DIR has started on this "
                "host, or the directory was removed; compare with the running processes' LOG_DIR"
            )
        return Outcome(
            Status.WARN,
            f"LOG_DIR {directory} {problem}",
            {"log_dir": str(directory), "exists": directory.exists()},
            thresholds,
        )
    files = await asyncio.to_thread(_log_files, directory)
    total = sum(stat.st_size for _, stat in files)
    largest = largest_files(files, directory)
    details: dict[str, Any] = {
        "log_dir": str(directory),
        "total_bytes": total,
        "files": len(files),
        "largest": largest,
    }
    size_mb = total / (1024 * 1024)
    status = above(size_mb, warn)
    summary = f"LOG_DIR {directory} holds {human_bytes(total)} in {len(files)} file(s)"
    if largest:
        summary += f"; largest {largest[0]['path']} ({human_bytes(largest[0]['bytes'])})"
    if status is not Status.OK:
        summary += (
            f"; above {ctx.settings.maint_log_dir_warn_mb:g} MiB: the log_cleanup task deletes "
            "logs older than MAINT_LOG_RETENTION_DAYS, or lower LOG_FILE_BACKUPS"
        )
    return Outcome(status, summary, details, thresholds)
