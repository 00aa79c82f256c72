"""Service benchmark on the embedded default: a real ``cv-evaluator serve`` on this machine.

Measures evaluate→completed latency (server-side timestamps from the job row, so client polling
does not distort it) and, at a fixed number of concurrent clients, requests/s with p50/p99 for
upload, evaluate, result GET (200) and result GET with a current ETag (304).

    .venv/bin/python -m bench.service [--jobs 100] [--clients 50] [--requests 2000]

The result GETs are driven by ``wrk`` (Debian package ``wrk``) when it is installed, by an httpx
client otherwise; uploads and evaluations always by httpx. Every load generator runs on the same 2
cores as the service, so the figures are a floor for what the service does on its own. Between
phases the benchmark waits for the queue to drain, so background evaluations do not slow the next
phase. The last line printed is the JSON of all figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT
from tests.support.processes import CLI, ServeProcess

Caller = Callable[[httpx.AsyncClient], Awaitable[int]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


async def _upload(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/v1/upload",
        files={
            "cv": ("cv.txt", SAMPLE_CV_TEXT.encode()),
            "project": ("p.md", SAMPLE_PROJECT_TEXT.encode()),
        },
    )
    response.raise_for_status()
    ids: dict[str, str] = response.json()
    return ids


async def measure_completion_latency(base_url: str, data_dir: Path, jobs: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        ids = await _upload(client)
        job_ids = []
        for _ in range(jobs):
            # One at a time, waiting for each, so this is latency, not throughput.
            job_id = (await client.post("/v1/evaluate", json=ids)).json()["id"]
            job_ids.append(job_id)
            while (await client.get(f"/v1/result/{job_id}")).json()["status"] not in {
                "completed",
                "failed",
            }:
                await asyncio.sleep(0.001)
    with sqlite3.connect(data_dir / "app.db") as db:
        rows = db.execute(
            "SELECT j.created_at, j.started_at, j.finished_at, r.document "
            "FROM jobs j JOIN results r ON r.job_id = j.id"
        ).fetchall()
    totals, evaluator, overhead, pickup = [], [], [], []
    for created, started, finished, document in rows:
        created_at = datetime.fromisoformat(created)
        pickup.append((datetime.fromisoformat(started) - created_at).total_seconds())
        total = (datetime.fromisoformat(finished) - created_at).total_seconds()
        spent = json.loads(document)["receipt"]["duration_ms"] / 1000
        totals.append(total)
        evaluator.append(spent)
        overhead.append(total - spent)
    return {
        "jobs": len(rows),
        "evaluate_to_completed": summary_ms(totals),
        "enqueue_to_claim": summary_ms(pickup),
        "evaluator_time": summary_ms(evaluator),
        "overhead_excluding_evaluator": summary_ms(overhead),
    }


async def run_load(
    name: str,
    clients: int,
    total: int,
    call: Callable[[httpx.AsyncClient], Awaitable[int]],
    base_url: str,
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = total
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one_client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                status = await call(client)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "route": name,
        "client": "httpx",
        "clients": clients,
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "statuses": statuses,
        **summary_ms(latencies),
    }


async def wait_for_drain(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while True:
            queue = (await client.get("/readyz")).json()["checks"]["queue"]
            if queue["queued"] == 0 and queue["processing"] == 0:
                return
            await asyncio.sleep(0.2)


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return round(float(match.group(1)) * _WRK_UNITS[match.group(2)], 2)


def run_wrk(
    name: str, url: str, clients: int, seconds: int, headers: dict[str, str]
) -> dict[str, Any]:
    args = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", url]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "route": name,
        "client": "wrk",
        "clients": clients,
        "requests_per_second": round(rps, 1),
        "p50_ms": _wrk_ms(p50),
        "p99_ms": _wrk_ms(p99),
        "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


async def measure_throughput(base_url: str, clients: int, requests: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        ids = await _upload(client)
        job_id = (await client.post("/v1/evaluate", json=ids)).json()["id"]
        while (await client.get(f"/v1/result/{job_id}")).json()["status"] != "completed":
            await asyncio.sleep(0.01)
        etag = (await client.get(f"/v1/result/{job_id}")).headers["etag"]
    cv = SAMPLE_CV_TEXT.encode()
    project = SAMPLE_PROJECT_TEXT.encode()

    async def upload(c: httpx.AsyncClient) -> int:
        r = await c.post("/v1/upload", files={"cv": ("cv.txt", cv), "project": ("p.md", project)})
        return r.status_code

    async def evaluate(c: httpx.AsyncClient) -> int:
        return (await c.post("/v1/evaluate", json=ids)).status_code

    async def result(c: httpx.AsyncClient) -> int:
        return (await c.get(f"/v1/result/{job_id}")).status_code

    async def result_304(c: httpx.AsyncClient) -> int:
        return (await c.get(f"/v1/result/{job_id}", headers={"If-None-Match": etag})).status_code

    figures = []
    posts: list[tuple[str, Caller, int]] = [
        ("POST /v1/upload", upload, requests // 4),
        ("POST /v1/evaluate", evaluate, requests // 2),
    ]
    for name, post, count in posts:
        figures.append(await run_load(name, clients, count, post, base_url))
        await wait_for_drain(base_url)
    url = f"{base_url}/v1/result/{job_id}"
    gets: list[tuple[str, Caller, dict[str, str]]] = [
        ("GET /v1/result/{id} (200)", result, {}),
        ("GET /v1/result/{id} (304)", result_304, {"If-None-Match": etag}),
    ]
    for name, call, headers in gets:
        if shutil.which("wrk"):
            figures.append(run_wrk(name, url, clients, 10, headers))
        else:
            figures.append(await run_load(name, clients, requests, call, base_url))
        # One client at a time: the service's own latency, without queueing behind 49 others.
        figures.append(await run_load(name, 1, requests // 4, call, base_url))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs", type=int, default=100, help="sequential jobs for the latency figure"
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients for throughput")
    parser.add_argument(
        "--requests", type=int, default=2000, help="result GETs per run (others scaled)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        env = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", "APP_WORKERS": "2"}
        subprocess.run([CLI, "migrate"], env={**os.environ, **env}, check=True, capture_output=True)
        serve = ServeProcess(env, Path(tmp) / "serve.log", ["--no-migrate"])
        try:
            serve.wait_healthy()
            latency = asyncio.run(measure_completion_latency(serve.base_url, data_dir, args.jobs))
            throughput = asyncio.run(
                measure_throughput(serve.base_url, args.clients, args.requests)
            )
        finally:
            serve.stop()
    figures = {
        "date": datetime.now().date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "latency": latency,
        "throughput": throughput,
    }
    lat = latency["evaluate_to_completed"]
    print(
        f"evaluate→completed: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
        f"over {latency['jobs']} jobs"
    )
    pick = latency["enqueue_to_claim"]
    print(f"enqueue→claimed by an idle worker: p50 {pick['p50_ms']} ms, p99 {pick['p99_ms']} ms")
    for row in throughput:
        print(
            f"{row['route']:<28} {row['client']:>5} x{row['clients']:<3} "
            f"{row['requests_per_second']:>8} req/s  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
