"""Settings: one typed list; each has a name, a default, help text and an environment variable.

The environment variable is the field name in upper case (``db_url`` → ``DB_URL``); prefixes group
them (``DB_``, ``QUEUE_``, ``AI_``, ``APP_``, ``DATA_``, ``JOB_``, ``WORKER_``, ``LOG_``...).
``docs/configuration.md`` is generated from this list and a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class QueueBackend(StrEnum):
    DB = "db"
    KAFKA = "kafka"


class AiProvider(StrEnum):
    LOCAL = "local"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", validate_default=True, frozen=True
    )

    # --- storage
    data_dir: Path = Field(
        default=Path("./data"),
        description="Directory for the SQLite database, uploaded originals and other local state.",
    )
    db_url: str | None = Field(
        default=None,
        description=(
            "Database URL. Empty means the SQLite file `app.db` inside `DATA_DIR` (WAL mode). "
            "For PostgreSQL: `postgresql+psycopg://user:password@host:5432/app`."
        ),
    )
    db_busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="SQLite: how long a writer waits for a lock before failing (milliseconds).",
    )
    db_pool_size: int = Field(
        default=5,
        ge=1,
        description="PostgreSQL: connections per process, at most (the pool never grows past it).",
    )
    db_pool_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "PostgreSQL: how long a request waits to get or open a connection before it "
            "answers 503 UNAVAILABLE."
        ),
    )

    # --- HTTP server
    app_host: str = Field(default="0.0.0.0", description="Address the HTTP server binds to.")  # noqa: S104
    app_port: int = Field(default=8080, ge=1, le=65535, description="HTTP port.")
    app_workers: int = Field(
        default=2,
        ge=0,
        description="In-process evaluation workers started by `serve` (0: the API only).",
    )
    app_result_cache_size: int = Field(
        default=1024,
        ge=0,
        description=(
            "Rendered results of completed jobs kept in memory per API process (0 turns it off); "
            "a completed result never changes, so this only saves database reads."
        ),
    )
    app_migrate_on_start: bool = Field(
        default=True, description="`serve` and `worker` apply database migrations on start."
    )

    # --- input limits
    max_upload_mb: float = Field(
        default=10.0, gt=0, description="Largest accepted upload request body, in MiB."
    )
    max_document_pages: int = Field(
        default=200, ge=1, description="Largest accepted PDF, in pages."
    )
    max_reference_chars: int = Field(
        default=50_000,
        ge=100,
        description="Longest accepted `job_description`, `study_case_brief` or `scoring_rubric`.",
    )

    # --- queue and workers
    queue_backend: QueueBackend = Field(
        default=QueueBackend.DB,
        description=(
            "Where jobs wait: `db` (the jobs table itself, leased claims) or `kafka` (a "
            "Kafka-protocol broker such as Redpanda; the jobs table stays the source of truth)."
        ),
    )
    kafka_brokers: str = Field(
        default="localhost:9092",
        description="Kafka bootstrap servers, `host:port,host:port` (with `QUEUE_BACKEND=kafka`).",
    )
    kafka_topic: str = Field(
        default="evaluate-jobs", description="Topic that carries the ids of jobs to evaluate."
    )
    kafka_dead_letter_topic: str = Field(
        default="evaluate-jobs.dlq",
        description="Topic that receives jobs that failed for good, with their error and attempts.",
    )
    kafka_consumer_group: str = Field(
        default="ai-cv-evaluator-workers", description="Consumer group of the worker processes."
    )
    kafka_partitions: int = Field(
        default=8,
        ge=1,
        description="Partitions of the jobs topic when the service creates it (caps parallelism).",
    )
    kafka_retention_hours: float = Field(
        default=168.0, gt=0, description="Retention of both topics when the service creates them."
    )
    kafka_sweep_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "How often each process publishes jobs whose message is missing: accepted while the "
            "broker was down, due for a retry, or whose worker died."
        ),
    )
    kafka_republish_after_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A job still queued this long after it was published is published again.",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed job belongs to its worker before others may reclaim it.",
    )
    job_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Attempts per job; after the last one the job fails with its last error code.",
    )
    job_retry_base_seconds: float = Field(
        default=2.0,
        gt=0,
        description="First retry delay; each further retry doubles it (with jitter).",
    )
    job_retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Upper bound on one retry delay."
    )
    job_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Longest one evaluation attempt may run before it counts as a transient failure."
        ),
    )
    worker_poll_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Idle workers look for work this often; in-process workers are also woken at once "
            "by new jobs."
        ),
    )
    worker_shutdown_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long in-flight jobs may finish before they are released.",
    )

    # --- evaluation
    ai_provider: AiProvider = Field(
        default=AiProvider.LOCAL,
        description="Which evaluator scores: `local` (offline, deterministic rubric evaluator).",
    )

    ai_local_processes: int = Field(
        default=2,
        ge=0,
        description=(
            "Processes that run the local evaluator's CPU-bound scoring, so it never competes "
            "with the API for the interpreter lock; 0 scores in a thread of the serving process."
        ),
    )

    # --- completion callbacks
    app_webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key for the HMAC-SHA256 signature of completion callbacks; `callback_url` is refused "
            "while it is unset."
        ),
    )
    app_callback_allowed_hosts: str = Field(
        default="",
        description=(
            "Comma-separated hosts that callbacks may reach even though they resolve to private, "
            "loopback or link-local addresses (refused otherwise)."
        ),
    )
    app_callback_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time limit of one callback request."
    )
    app_callback_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        description="First delay before a failed callback is tried again; doubles each time.",
    )
    app_callback_retry_window_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="How long after the job ended a failing callback keeps being tried.",
    )

    # --- readiness
    ready_min_free_disk_mb: float = Field(
        default=100.0,
        ge=0,
        description="`/readyz` fails when `DATA_DIR` has less free space than this (MiB).",
    )

    # --- logging
    log_level: str = Field(default="INFO", description="Lowest level written to the log.")
    log_format: LogFormat = Field(
        default=LogFormat.JSON, description="`json` (one object per line) or `text`."
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'app.db').as_posix()}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def effective(self) -> dict[str, Any]:
        """Every setting by its environment variable, secrets masked; for `config show`."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif name == "db_url":
                value = mask_url_password(self.database_url)
            elif isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, Path):
                value = str(value)
            shown[name.upper()] = value
        return shown


def mask_url_password(url: str) -> str:
    """Hide the password part of ``scheme://user:password@host/...``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def setting_docs() -> list[tuple[str, str, str]]:
    """(ENV_VAR, default, help) for every setting, in declaration order."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, StrEnum):
            shown = default.value
        elif default is None:
            shown = ""
        else:
            shown = str(default)
        rows.append((name.upper(), shown, field.description or ""))
    return rows
