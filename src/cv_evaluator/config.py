"""Settings: one typed list; each has a name, a default, help text and an environment variable.

The environment variable is the field name in upper case (``db_url`` → ``DB_URL``); prefixes group
them (``DB_``, ``QUEUE_``, ``AI_``, ``APP_``, ``DATA_``, ``JOB_``, ``WORKER_``, ``LOG_``,
``ADMIN_``, ``MAINT_``...).
``docs/configuration.md`` is generated from this list and a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    app_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "`worker` processes serve `/metrics` and `/healthz` on this port (bound to "
            "`APP_HOST`) so every process can be scraped; empty: no HTTP in a worker. `serve` "
            "always answers `/metrics` on `APP_PORT`."
        ),
    )
    app_git_revision: str | None = Field(
        default=None,
        description=(
            "Source revision reported by `cv_evaluator_build_info` (set at image build time); "
            "empty: read from the checkout's `.git`, else `unknown`."
        ),
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
    log_dir: Path | None = Field(
        default=None,
        description=(
            "When set, JSON logs are also written to rotating files `<process>.log` in this "
            "directory (stdout keeps its copy)."
        ),
    )
    log_file_max_mb: float = Field(
        default=50.0, gt=0, description="A log file is rotated when it reaches this size (MiB)."
    )
    log_file_backups: int = Field(
        default=10, ge=1, description="Rotated log files kept per process by the log writer."
    )

    # --- tracing (the standard OpenTelemetry names; every other `OTEL_*` variable applies too)
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description=(
            "OTLP/HTTP collector base URL (e.g. `http://collector:4318`); spans go to "
            "`<url>/v1/traces`. Empty: tracing is off and costs nothing."
        ),
    )
    otel_service_name: str = Field(
        default="ai-cv-evaluator",
        min_length=1,
        description="`service.name` of the exported spans.",
    )

    # --- administration
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token for the `/admin/...` HTTP routes (`Authorization: Bearer <token>`); "
            "with none set those routes answer 403."
        ),
    )

    # --- data retention
    data_retention_days: float = Field(
        default=90.0,
        gt=0,
        description=(
            "Ended jobs, their results and callbacks, and uploads no longer used by a kept job, "
            "are deleted by the retention task once older than this."
        ),
    )
    data_retention_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Rows deleted per transaction by the retention task (kept short on purpose).",
    )
    data_retention_pause_seconds: float = Field(
        default=0.05,
        ge=0,
        description=(
            "Pause between two retention batches, so the API always gets the database (at "
            "least 0.1 s on SQLite, whose waiting writers retry too seldom to catch shorter gaps)."
        ),
    )

    # --- maintenance: where and how
    maint_base_url: str | None = Field(
        default=None,
        description=(
            "URL of the service that the service checks call (`/healthz`, `/readyz`); empty "
            "means `http://127.0.0.1:<APP_PORT>`."
        ),
    )
    maint_backup_dir: Path | None = Field(
        default=None,
        description="Directory that holds backups; empty means `DATA_DIR/backups`.",
    )
    maint_backup_hardlink: bool = Field(
        default=True,
        description=(
            "Backups hard-link the stored upload files when the backup directory is on the same "
            "filesystem (originals are never changed in place, so a link is a faithful copy that "
            "costs no space); false always copies them."
        ),
    )
    maint_backup_keep_daily: int = Field(
        default=7, ge=0, description="`backup prune` keeps the newest backup of this many days."
    )
    maint_backup_keep_weekly: int = Field(
        default=4, ge=0, description="`backup prune` keeps the newest backup of this many weeks."
    )
    maint_backup_keep_monthly: int = Field(
        default=6, ge=0, description="`backup prune` keeps the newest backup of this many months."
    )
    maint_backup_max_age_hours: float = Field(
        default=26.0,
        gt=0,
        description=(
            "The newest verified backup older than this is WARN, older than three times this "
            "CRITICAL (`backup.age`)."
        ),
    )
    maint_pg_bin_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of `pg_dump`, `pg_restore` and `pg_amcheck`; empty means `PATH`, else the "
            "newest `/usr/lib/postgresql/*/bin`."
        ),
    )
    maint_schedules_file: Path | None = Field(
        default=None,
        description=(
            "TOML file that replaces the built-in schedules (checks and tasks of daily, weekly, "
            "monthly, quarterly); see docs/operations.md for the format."
        ),
    )
    maint_scheduler_timezone: str = Field(
        default="UTC",
        description=(
            "IANA time zone of the schedules' times (`maint scheduler`, `maint cron`) and of the "
            "local times in maintenance notifications, e.g. `Europe/Berlin`."
        ),
    )
    maint_scheduler_lock_wait_seconds: float = Field(
        default=1800.0,
        ge=0,
        description=(
            "How long `maint scheduler` waits for the maintenance lock when another procedure "
            "holds it at a slot; after that the slot is skipped and recorded as skipped."
        ),
    )
    maint_notify_template_dir: Path | None = Field(
        default=None,
        description=(
            "Directory whose `announcement.txt` and `completion.txt` replace the built-in "
            "maintenance notification templates (`maint notify`); a file missing there keeps "
            "the built-in one."
        ),
    )
    maint_notify_webhook_url: SecretStr | None = Field(
        default=None,
        description=(
            "URL that `maint notify` POSTs each notification to as JSON (it may embed a token, "
            "so it is masked everywhere); empty: print only. `--webhook` overrides it."
        ),
    )
    maint_notify_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time limit of one webhook request of `maint notify`."
    )
    maint_check_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Longest one check may run before it reports UNKNOWN."
    )
    maint_monitor_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "How often each API process refreshes the check results behind `/metrics` and "
            "`GET /admin/api/health` (0 turns the refresh off)."
        ),
    )
    maint_monitor_checks: str = Field(
        default="service.disk,service.logs,sqlite.files,sqlite.freelist,sqlite.analyze,"
        "postgres.connections,postgres.database_size,"
        "postgres.long_queries,postgres.wraparound,queue.*,kafka.*,cross.*,backup.age",
        description=(
            "Checks the API processes refresh in the background (comma-separated names or "
            "patterns); the slow ones (dependency audit, bloat estimates) are left to the CLI."
        ),
    )

    # --- maintenance: service thresholds
    maint_http_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Time limit of the service checks' HTTP calls."
    )
    maint_http_warn_ms: float = Field(
        default=1000.0, gt=0, description="A `/healthz` or `/readyz` slower than this is WARN."
    )
    maint_process_cpu_warn_percent: float = Field(
        default=90.0, gt=0, description="A service process using more CPU than this is WARN."
    )
    maint_memory_warn_ratio: float = Field(
        default=0.80,
        gt=0,
        le=1,
        description="Memory in use over the limit (cgroup limit, else RAM) above which it is WARN.",
    )
    maint_memory_critical_ratio: float = Field(
        default=0.90,
        gt=0,
        le=1,
        description="Memory in use over the limit above which it is CRITICAL.",
    )
    maint_disk_warn_free_ratio: float = Field(
        default=0.20,
        ge=0,
        le=1,
        description="Free space (or inodes) below this share of the filesystem is WARN.",
    )
    maint_disk_critical_free_ratio: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Free space (or inodes) below this share of the filesystem is CRITICAL.",
    )
    maint_disk_forecast_warn_days: float = Field(
        default=14.0, gt=0, description="A filesystem forecast to fill within this many days: WARN."
    )
    maint_disk_forecast_critical_days: float = Field(
        default=2.0,
        gt=0,
        description="A filesystem forecast to fill within this many days: CRITICAL.",
    )
    maint_log_dir_warn_mb: float = Field(
        default=1024.0, gt=0, description="The log directory larger than this (MiB) is WARN."
    )
    maint_log_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="The log cleanup task deletes `*.log` files older than this.",
    )
    maint_log_compressed_retention_days: float = Field(
        default=90.0,
        gt=0,
        description="The log cleanup task deletes compressed logs (`*.gz`) older than this.",
    )

    # --- maintenance: PostgreSQL thresholds
    maint_pg_long_query_warn_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A query running, or a session idle in transaction, longer than this is WARN.",
    )
    maint_pg_long_query_critical_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="A query running, or idle in transaction, longer than this is CRITICAL.",
    )
    maint_pg_blocked_warn_seconds: float = Field(
        default=60.0, gt=0, description="A query waiting on a lock longer than this is WARN."
    )
    maint_pg_rollback_ratio_warn: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Rolled back over all transactions of the database above this is WARN.",
    )
    maint_pg_cache_hit_ratio_warn: float = Field(
        default=0.99,
        ge=0,
        le=1,
        description="Buffer cache hit ratio below this is WARN (pghero's rule of thumb).",
    )
    maint_pg_connections_warn_ratio: float = Field(
        default=0.80,
        gt=0,
        le=1,
        description="Connections over `max_connections` above this is WARN.",
    )
    maint_pg_connections_critical_ratio: float = Field(
        default=0.90,
        gt=0,
        le=1,
        description="Connections over `max_connections` above this is CRITICAL.",
    )
    maint_pg_wraparound_warn_age: int = Field(
        default=1_300_000_000,
        gt=0,
        description="Transaction-ID age (of the oldest database) above this is WARN "
        "(check_postgres' default).",
    )
    maint_pg_wraparound_critical_age: int = Field(
        default=1_400_000_000,
        gt=0,
        description="Transaction-ID age above this is CRITICAL (check_postgres' default).",
    )
    maint_pg_bloat_warn_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Estimated wasted share of a table or index above this is WARN.",
    )
    maint_pg_bloat_min_mb: float = Field(
        default=10.0,
        ge=0,
        description="Tables and indexes smaller than this (MiB) are never reported as bloated.",
    )
    maint_pg_dead_tuple_warn_ratio: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Dead rows over all rows of a table above this is WARN.",
    )
    maint_pg_dead_tuple_min_rows: int = Field(
        default=1000,
        ge=0,
        description="Tables with fewer dead rows than this are never reported for dead rows.",
    )
    maint_pg_vacuum_warn_days: float = Field(
        default=7.0,
        gt=0,
        description="A changed table not vacuumed or analyzed (manually or by autovacuum) for "
        "longer than this is WARN.",
    )
    maint_pg_index_usage_min_ratio: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="Index scans over all scans of a larger table below this is WARN (pghero).",
    )
    maint_pg_large_table_rows: int = Field(
        default=10_000,
        ge=0,
        description="Tables with at least this many rows count as larger for index usage and "
        "unused-index checks.",
    )
    maint_pg_slow_query_warn_ms: float = Field(
        default=1000.0,
        gt=0,
        description="A statement in `pg_stat_statements` with a mean time above this is WARN.",
    )
    maint_pg_lock_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Maintenance tasks give up on a table whose lock they cannot get within this "
        "(`lock_timeout`), so they never queue the service's queries behind them.",
    )
    maint_pg_statement_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Longest one maintenance statement (`ANALYZE`, `VACUUM`, a retention batch) "
        "may run (`statement_timeout`).",
    )

    # --- maintenance: SQLite thresholds
    maint_sqlite_wal_warn_mb: float = Field(
        default=256.0, gt=0, description="A SQLite write-ahead log larger than this (MiB) is WARN."
    )
    maint_sqlite_freelist_warn_ratio: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Free (reclaimable) pages over all pages of the SQLite file above this: WARN.",
    )
    maint_sqlite_analyze_warn_days: float = Field(
        default=30.0,
        gt=0,
        description="SQLite statistics older than this (or never gathered) are WARN.",
    )

    # --- maintenance: queue thresholds
    maint_queue_depth_warn: int = Field(
        default=1000, ge=0, description="Jobs waiting in the queue above this is WARN."
    )
    maint_queue_depth_critical: int = Field(
        default=10_000, ge=0, description="Jobs waiting in the queue above this is CRITICAL."
    )
    maint_queue_oldest_warn_seconds: float = Field(
        default=300.0,
        gt=0,
        description="The oldest waiting or unfinished job older than this: WARN.",
    )
    maint_queue_oldest_critical_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="The oldest waiting or unfinished job older than this: CRITICAL.",
    )
    maint_queue_failure_ratio_warn: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Failed over ended jobs in the last hour above this is WARN.",
    )
    maint_queue_failure_ratio_critical: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Failed over ended jobs in the last hour above this is CRITICAL.",
    )
    maint_queue_failure_min_jobs: int = Field(
        default=20,
        ge=1,
        description="The failure ratio is judged only once this many jobs ended in the hour.",
    )
    maint_kafka_lag_allowance: int = Field(
        default=100,
        ge=0,
        description="Consumer lag (messages) that is always OK, whatever its trend.",
    )
    maint_kafka_lag_samples: int = Field(
        default=3,
        ge=2,
        description="Offsets samples taken to judge the consumer group's lag trend.",
    )
    maint_kafka_lag_interval_seconds: float = Field(
        default=2.0, gt=0, description="Time between two offset samples of the lag check."
    )
    # --- maintenance windows and drills
    maint_window_max_minutes: float = Field(
        default=120.0,
        gt=0,
        le=7 * 24 * 60,
        description=(
            "Planned length of a maintenance window: the mode it sets ends by itself after this, "
            "and refused clients are told when to come back."
        ),
    )
    maint_window_drain_timeout_seconds: float = Field(
        default=300.0,
        ge=0,
        description=(
            "How long a window waits for jobs in flight to finish before it gives up (and "
            "reopens the service untouched)."
        ),
    )
    maint_window_smoke_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long the smoke test waits for its evaluation to complete.",
    )
    maint_window_monitor_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Time between two looks at the service while a window monitors it after reopening "
            "(`--monitor-minutes` counts these)."
        ),
    )
    maint_window_error_rate_warn: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description=(
            "Share of HTTP answers that are 5xx, per monitoring interval, above which a window "
            "reports the minute as failed."
        ),
    )

    @field_validator("maint_scheduler_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "must be an IANA time zone name such as UTC or Europe/Berlin"
            ) from None
        return value

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
    def backup_dir(self) -> Path:
        return self.maint_backup_dir or self.data_dir / "backups"

    @property
    def service_base_url(self) -> str:
        return (self.maint_base_url or f"http://127.0.0.1:{self.app_port}").rstrip("/")

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
            elif name == "otel_exporter_otlp_endpoint" and value:
                value = mask_url_password(value)
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
