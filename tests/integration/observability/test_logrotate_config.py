"""deploy/logrotate/ai-cv-evaluator: accepted by logrotate, and rotates what it says it does.

logrotate comes from Debian's `logrotate` package (scripts/ensure-test-services installs it);
without it these tests fail, they never skip.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "deploy" / "logrotate" / "ai-cv-evaluator"
INSTALLED_DIR = "/var/log/ai-cv-evaluator/"


def logrotate() -> str:
    path = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(
            "logrotate is missing: run scripts/ensure-test-services (Debian package 'logrotate')",
            pytrace=False,
        )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [logrotate(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def local_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The configuration pointed at a directory of the test's own; returns (config, log dir)."""
    text = CONFIG.read_text()
    assert text.count(INSTALLED_DIR) >= 1
    logs = tmp_path / "log"
    logs.mkdir(mode=0o755)
    config = tmp_path / "ai-cv-evaluator"
    config.write_text(text.replace(INSTALLED_DIR, f"{logs}/"))
    config.chmod(0o644)
    return config, logs


def test_logrotate_accepts_the_configuration(tmp_path: Path) -> None:
    result = run("--debug", "--state", str(tmp_path / "state"), str(CONFIG))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error" not in output.lower(), output
    assert f"rotating pattern: {INSTALLED_DIR}*.log" in output
    assert "14 rotations" in output


def test_capture_files_are_copied_and_truncated_and_the_services_own_files_left_alone(
    tmp_path: Path,
) -> None:
    config, logs = local_copy(tmp_path)
    capture = logs / "serve.log"
    capture.write_text("line 1\nline 2\n")
    # LOG_DIR is a subdirectory: the service rotates its files there itself.
    service_dir = logs / "service"
    service_dir.mkdir()
    own = service_dir / "serve-123.log"
    own.write_text('{"message": "own file"}\n')
    state = tmp_path / "state"

    first = run("--force", "--state", str(state), str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    # copytruncate: the writer's file stays where it is, emptied, and is not replaced.
    assert capture.exists() and capture.stat().st_size == 0
    assert (logs / "serve.log.1").read_text() == "line 1\nline 2\n"
    assert own.read_text() == '{"message": "own file"}\n'
    assert sorted(p.name for p in service_dir.iterdir()) == ["serve-123.log"]

    capture.write_text("line 3\n")
    second = run("--force", "--state", str(state), str(config))
    assert second.returncode == 0, second.stdout + second.stderr
    # delaycompress: the newest rotation stays plain, the one before is compressed.
    assert (logs / "serve.log.1").read_text() == "line 3\n"
    with gzip.open(logs / "serve.log.2.gz", "rt") as packed:
        assert packed.read() == "line 1\nline 2\n"
