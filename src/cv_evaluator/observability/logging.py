"""Structured logs: one JSON object per line, carrying the request id of the work at hand."""

from __future__ import annotations

import gzip
import json
import logging
import logging.handlers
import os
import shutil
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("request_id", request_id_var), ("job_id", job_id_var)):
            value = var.get()
            if value is not None:
                entry[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        rid = request_id_var.get()
        return f"{base} request_id={rid}" if rid else base


@dataclass(frozen=True, slots=True)
class LogFiles:
    """Where and how a process also writes its JSON log to rotating files."""

    directory: Path
    process: str  # e.g. "serve", "worker"
    max_bytes: int
    backups: int


def _gzip_rotator(source: str, dest: str) -> None:
    with open(source, "rb") as plain, gzip.open(dest, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    os.remove(source)


def file_handler(files: LogFiles) -> logging.Handler:
    """``<process>-<pid>.log``, rotated by size into ``<process>-<pid>.log.N.gz``.

    One file per process (by pid) because several processes of one kind may share a host and
    a log file must have one writer. Rotated files are compressed, which is what the log
    cleanup task's two retention periods (plain and compressed) are about.
    """
    files.directory.mkdir(parents=True, exist_ok=True)
    path = files.directory / f"{files.process}-{os.getpid()}.log"
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=files.max_bytes, backupCount=files.backups, encoding="utf-8"
    )
    handler.namer = lambda name: f"{name}.gz"
    handler.rotator = _gzip_rotator
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str, fmt: str, files: LogFiles | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if files is not None:
        root.handlers.append(file_handler(files))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access lines are replaced by our own request log, which carries the request id.
    logging.getLogger("uvicorn.access").disabled = True
    # While a broker is away the Kafka client logs every reconnection attempt as an error, many
    # a second; the queue reports the outage itself, once per failed operation, as a warning.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
