"""Structured logs: one JSON object per line, carrying the request id of the work at hand.

What a line may carry: ids (request, job, upload), codes, statuses, counts and timings. Never the
text of a document, a file name, scores or feedback: logs travel further and live longer than the
database that holds those. Exception messages are the one way such text could slip in (an error
that quotes its input), so tracebacks keep their frames but print the message only of exceptions
whose messages are known to be written by this project or the operating system.
"""

from __future__ import annotations

import gzip
import json
import logging
import logging.handlers
import os
import shutil
import sys
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cv_evaluator.domain.errors import CvEvaluatorError

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)

# uvicorn adds ``color_message``: the same message with terminal colour codes, noise in JSON.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "color_message"
}
# Messages of these are ours (stable, written for clients) or the operating system's.
_MESSAGE_SAFE: tuple[type[BaseException], ...] = (CvEvaluatorError, OSError)


def _describe(exc: BaseException) -> str:
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in {"builtins", "__main__"}:
        name = f"{module}.{name}"
    if isinstance(exc, _MESSAGE_SAFE):
        message = str(exc)
        return f"{name}: {message}" if message else name
    return f"{name} (message withheld: it may quote the input)"


def format_exception_safely(exc: BaseException) -> str:
    """A traceback like Python's, with each message kept only when it cannot quote input."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    parts: list[str] = []
    for index, item in enumerate(reversed(chain)):
        if index:
            parts.append("\nThe above exception led to the following one:\n\n")
        frames = traceback.extract_tb(item.__traceback__)
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(frames))
        parts.append(_describe(item) + "\n")
    return "".join(parts).rstrip("\n")


class _SafeExceptions(logging.Formatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        exc = ei[1] if isinstance(ei, tuple) else None
        if isinstance(exc, BaseException):
            return format_exception_safely(exc)
        return super().formatException(ei)


class JsonFormatter(_SafeExceptions):
    """``timestamp``, ``level``, ``logger``, ``event``, ``message``, the ids, then extra fields.

    ``event`` names the kind of line for filtering (``http_request``, ``job_completed``...): the
    ``event`` given by the caller, else the message template before its arguments were filled in.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "event": str(record.msg),
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


class TextFormatter(_SafeExceptions):
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
    """Log to standard output (where container runtimes collect it), and to ``files`` if given."""
    handler = logging.StreamHandler(sys.stdout)
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
