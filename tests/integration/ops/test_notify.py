"""Maintenance notifications delivered to a real local HTTP server, and recorded in the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner

from cv_evaluator.cli import main
from cv_evaluator.config import Settings
from cv_evaluator.domain.clock import SystemClock
from cv_evaluator.domain.errors import ErrorCode, InvalidArgument, Unavailable
from cv_evaluator.ops.context import OpsContext
from cv_evaluator.ops.notify import post_webhook
from cv_evaluator.ops.runs import MaintenanceLog, MaintenanceRun
from cv_evaluator.storage.engine import make_async_engine
from cv_evaluator.storage.migrate import upgrade
from tests.support.backends import Databases
from tests.support.http_receiver import HttpReceiver, http_receiver
from tests.support.processes import free_port

_T = TypeVar("_T")

PAYLOAD = {"kind": "announcement", "subject": "s", "text": "t"}


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver("/hooks/T0/s3cr3t-token") as running:
        yield running


class Naps:
    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        await asyncio.sleep(0)


async def test_the_webhook_receives_the_notice_as_json(receiver: HttpReceiver) -> None:
    delivery = await post_webhook(receiver.url, PAYLOAD, timeout=5)
    assert (delivery.status_code, delivery.attempts) == (200, 1)
    ((path, headers, raw),) = receiver.received
    body = json.loads(raw)
    assert path == "/hooks/T0/s3cr3t-token"
    assert headers["Content-Type"] == "application/json"
    assert body == PAYLOAD
    assert "s3cr3t" not in delivery.url


async def test_a_5xx_answer_is_retried(receiver: HttpReceiver) -> None:
    receiver.statuses[:] = [500, 200]
    naps = Naps()
    delivery = await post_webhook(receiver.url, PAYLOAD, timeout=5, sleep=naps)
    assert (delivery.status_code, delivery.attempts) == (200, 2)
    assert len(receiver.received) == 2 and naps.taken == [1.0]
    assert delivery.errors == ["HTTP 500 upstream trouble"]


async def test_a_persistent_5xx_fails_after_bounded_attempts(receiver: HttpReceiver) -> None:
    receiver.statuses[:] = [503, 502, 500, 200]
    naps = Naps()
    with pytest.raises(Unavailable) as caught:
        await post_webhook(receiver.url, PAYLOAD, timeout=5, sleep=naps)
    assert len(receiver.received) == 3 and naps.taken == [1.0, 2.0]
    assert caught.value.code is ErrorCode.UNAVAILABLE
    assert "failed after 3 attempts: HTTP 500" in caught.value.message
    assert "s3cr3t" not in caught.value.message


async def test_a_refusal_is_not_retried(receiver: HttpReceiver) -> None:
    receiver.statuses[:] = [401]
    with pytest.raises(InvalidArgument, match="refused the notification: HTTP 401"):
        await post_webhook(receiver.url, PAYLOAD, timeout=5, sleep=Naps())
    assert len(receiver.received) == 1


async def test_an_unreachable_webhook_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/s3cr3t-token"  # nothing listens there
    naps = Naps()
    with pytest.raises(Unavailable) as caught:
        await post_webhook(url, PAYLOAD, timeout=5, sleep=naps)
    message = caught.value.message
    assert message.startswith(f"webhook http://127.0.0.1:{url.split(':')[2].split('/')[0]}/… ")
    assert "failed after 3 attempts: ConnectError" in message
    assert "s3cr3t" not in message and caught.value.details["attempts"] == 3
    assert len(naps.taken) == 2


# --- `maint notify` end to end, on both backends


@pytest.fixture
def env(tmp_path: Path, backend: str, databases: Databases) -> dict[str, str | None]:
    data_dir = tmp_path / "data"
    url = databases.migrated_url(backend, data_dir)
    upgrade(url)
    return {
        "DATA_DIR": str(data_dir),
        "DB_URL": url,
        "MAINT_SCHEDULER_TIMEZONE": "Europe/Berlin",
        "MAINT_NOTIFY_WEBHOOK_URL": None,
        "MAINT_NOTIFY_TEMPLATE_DIR": None,
        "MAINT_SCHEDULES_FILE": None,
    }


def invoke(env: dict[str, str | None], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["maint", "notify", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def with_log(env: dict[str, str | None], work: Callable[[MaintenanceLog], Awaitable[_T]]) -> _T:
    """Run ``work`` on the maintenance log of the database the command line was given."""

    async def main() -> _T:
        url = env["DB_URL"]
        assert url is not None
        settings = Settings(data_dir=Path(str(env["DATA_DIR"])), db_url=url)
        engine = make_async_engine(url)
        try:
            return await work(MaintenanceLog(OpsContext(settings, SystemClock(), engine)))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def entries(env: dict[str, str | None]) -> list[MaintenanceRun]:
    async def read(log: MaintenanceLog) -> list[MaintenanceRun]:
        return await log.since(datetime.now(UTC) - timedelta(days=1))

    return with_log(env, read)


def recorded_run(env: dict[str, str | None]) -> str:
    async def write(log: MaintenanceLog) -> str:
        run_id = await log.start("weekly", dry_run=False, before={}, kind="window")
        await log.update(
            run_id,
            status="warn",
            finished_at=datetime.now(UTC),
            duration_seconds=1800.0,
            tasks=[{"task": "analyze", "status": "ok", "summary": "5 tables"}],
            issues=[{"source": "check postgres.bloat", "status": "warn", "summary": "12%"}],
        )
        return run_id

    return with_log(env, write)


WINDOW = ("--schedule", "weekly", "--start", "2026-12-06T03:00:00Z", "--end", "2026-12-06T04:00Z")


def test_notify_posts_prints_and_records(
    env: dict[str, str | None], receiver: HttpReceiver
) -> None:
    code, out, err = invoke(env, *WINDOW, "--webhook", receiver.url)
    assert code == 0, err
    assert out.startswith("Subject: Scheduled maintenance of the CV evaluation service")
    assert "(Sun 06 Dec 2026, 04:00–05:00 Europe/Berlin)" in out
    assert "posted to http://127.0.0.1:" in err and "s3cr3t" not in err
    body = json.loads(receiver.received[0].body)
    assert len(receiver.received) == 1
    assert body["kind"] == "announcement" and body["schedule"] == "weekly"
    assert body["window"] == {
        "start": "2026-12-06T03:00:00+00:00",
        "end": "2026-12-06T04:00:00+00:00",
        "timezone": "Europe/Berlin",
    }
    assert out.startswith(f"Subject: {body['subject']}\n\n{body['text']}")
    assert [t["name"] for t in body["tasks"]] == ["analyze", "log_cleanup"]

    (entry,) = entries(env)
    assert (entry.kind, entry.schedule, entry.status) == ("notification", "weekly", "ok")
    assert entry.before["subject"] == body["subject"] and entry.before["text"] == body["text"]
    webhook = entry.after["webhook"]
    assert webhook["delivered"] is True and webhook["status_code"] == 200
    assert "s3cr3t" not in json.dumps(entry.as_dict())


def test_a_failed_webhook_is_exit_2_and_recorded(
    env: dict[str, str | None], receiver: HttpReceiver
) -> None:
    receiver.statuses[:] = [404]
    code, out, err = invoke({**env, "MAINT_NOTIFY_WEBHOOK_URL": receiver.url}, *WINDOW)
    assert code == 2
    assert out.startswith("Subject: ")  # the notice is still printed, to send by hand
    assert "INVALID_ARGUMENT: webhook http://127.0.0.1:" in err and "HTTP 404" in err
    (entry,) = entries(env)
    assert entry.kind == "notification" and entry.status == "failed"
    assert entry.after["webhook"]["delivered"] is False
    assert entry.issues[0]["source"] == "webhook"


def test_without_a_webhook_it_prints_and_records_and_dry_run_only_prints(
    env: dict[str, str | None],
) -> None:
    code, out, _ = invoke(env, *WINDOW, "--dry-run")
    assert code == 0 and out.startswith("Subject: ")
    assert entries(env) == []
    code, out, _ = invoke(env, *WINDOW)
    assert code == 0
    (entry,) = entries(env)
    assert entry.status == "ok" and entry.after["webhook"] == {"configured": False}


def test_the_completion_notice_of_a_recorded_run(
    env: dict[str, str | None], receiver: HttpReceiver
) -> None:
    run_id = recorded_run(env)
    code, out, err = invoke(env, "--completion", "--run", run_id, "--webhook", receiver.url)
    assert code == 0, err
    assert "completed with warnings (weekly)" in out
    assert "- check postgres.bloat: warn: 12%" in out and "Duration:  30 min" in out
    body = json.loads(receiver.received[0].body)
    assert len(receiver.received) == 1
    assert body["kind"] == "completion" and body["run"]["id"] == run_id
    kinds = sorted((e.kind, e.before.get("run_id")) for e in entries(env))
    assert kinds == [("notification", run_id), ("window", None)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--schedule", "weekly", "--start", "2026-12-06T03:00"), "give --schedule, --start"),
        (
            ("--schedule", "weekly", "--start", "2026-12-06T03:00", "--end", "2026-12-06T04:00Z"),
            "has no time zone",
        ),
        (
            ("--schedule", "weekly", "--start", "2026-12-06T05:00Z", "--end", "2026-12-06T04:00Z"),
            "must end after it starts",
        ),
        (("--schedule", "hourly", *WINDOW[2:]), "unknown schedule 'hourly'"),
        (("--completion",), "--completion needs --run"),
        (("--completion", "--run", "mnt_nope"), "no maintenance run 'mnt_nope'"),
    ],
)
def test_bad_arguments_are_usage_errors(
    env: dict[str, str | None], args: tuple[str, ...], message: str
) -> None:
    code, _, err = invoke(env, *args)
    assert code == 2 and message in err, err
    assert entries(env) == []
