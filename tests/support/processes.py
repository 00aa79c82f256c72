"""Run real ``cv-evaluator`` processes for acceptance tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx

CLI = str(Path(sys.executable).with_name("cv-evaluator"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class CliProcess:
    """One ``cv-evaluator`` subprocess with its own environment and log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        full_env = {**os.environ, **env}
        self.process = subprocess.Popen(
            [CLI, *args], env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class ServeProcess(CliProcess):
    def __init__(
        self, env: dict[str, str], log_path: Path, extra_args: list[str] | None = None
    ) -> None:
        self.port = free_port()
        super().__init__(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port), *(extra_args or [])],
            env,
            log_path,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 30) -> None:
        def healthy() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log()}")
            try:
                return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, "the service to answer /healthz")


def sigterm_and_wait(process: CliProcess, timeout: float) -> int:
    process.signal(signal.SIGTERM)
    return process.wait(timeout)
