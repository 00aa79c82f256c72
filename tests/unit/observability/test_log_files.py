from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

from cv_evaluator.observability.logging import LogFiles, file_handler


def test_log_files_rotate_by_size_into_compressed_files(tmp_path: Path) -> None:
    handler = file_handler(LogFiles(tmp_path / "logs", "serve", max_bytes=2_000, backups=3))
    logger = logging.getLogger("test.log_files")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for number in range(200):
            logger.warning("event %d", number, extra={"job_id": f"job_{number}"})
    finally:
        logger.removeHandler(handler)
        handler.close()
    current = list((tmp_path / "logs").glob("serve-*.log"))
    rotated = sorted((tmp_path / "logs").glob("serve-*.log.*.gz"))
    assert len(current) == 1
    assert len(rotated) == 3  # older ones beyond the backup count are dropped
    last_line = current[0].read_text().strip().splitlines()[-1]
    assert json.loads(last_line)["message"] == "event 199"
    with gzip.open(rotated[0], "rt") as packed:
        first = json.loads(packed.readline())
    assert first["level"] == "WARNING" and first["message"].startswith("event ")
