"""Completion callbacks: signed, retried, restricted, and never able to change their job."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from cv_evaluator.bootstrap import Runtime
from cv_evaluator.config import Settings
from cv_evaluator.storage.tables import callbacks
from tests.integration.api_helpers import serving, upload_texts, wait_for_terminal
from tests.support.http_receiver import HttpReceiver, http_receiver

SECRET = "s3cret-for-tests"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as running:
        yield running


def with_callbacks(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "app_webhook_secret": SecretStr(SECRET),
            "app_callback_allowed_hosts": "127.0.0.1",
            "app_callback_retry_base_seconds": 0.05,
            **extra,
        }
    )


async def wait_for_callback(runtime: Runtime, job_id: str, status: str) -> Any:
    async with asyncio.timeout(20):
        while True:
            async with runtime.engine.connect() as connection:
                row = (
                    await connection.execute(select(callbacks).where(callbacks.c.job_id == job_id))
                ).first()
            if row is not None and row.status == status:
                return row
            await asyncio.sleep(0.05)


async def test_the_result_is_posted_signed_after_a_retry(
    settings: Settings, receiver: HttpReceiver
) -> None:
    receiver.statuses.append(500)  # the first delivery fails
    async for runtime, client in serving(with_callbacks(settings)):
        ids = await upload_texts(client)
        job = (await client.post("/v1/evaluate", json={**ids, "callback_url": receiver.url})).json()
        done = await wait_for_terminal(client, job["id"])
        row = await wait_for_callback(runtime, job["id"], "delivered")
        assert row.attempts == 2
        assert [a.get("status") for a in row.attempt_log] == [500, 200]
        _path, headers, body = receiver.received[-1]
        expected = hmac.new(
            SECRET.encode(), headers["X-Signature-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Signature"] == f"sha256={expected}"
        assert json.loads(body) == done  # the same document as GET /v1/result/{id}


async def test_a_failing_callback_never_changes_its_job(
    settings: Settings, receiver: HttpReceiver
) -> None:
    receiver.statuses.extend([500] * 100)
    configured = with_callbacks(settings, app_callback_retry_window_seconds=0.3)
    async for runtime, client in serving(configured):
        ids = await upload_texts(client)
        job = (await client.post("/v1/evaluate", json={**ids, "callback_url": receiver.url})).json()
        row = await wait_for_callback(runtime, job["id"], "abandoned")
        assert row.attempts >= 1 and row.last_error == "HTTP 500"
        assert (await client.get(f"/v1/result/{job['id']}")).json()["status"] == "completed"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.5/x",
        "ftp://example.com/x",
    ],
)
async def test_private_and_odd_targets_are_refused_without_an_allow_list(
    settings: Settings, url: str
) -> None:
    signed = settings.model_copy(update={"app_webhook_secret": SecretStr(SECRET)})
    async for _runtime, client in serving(signed):
        ids = await upload_texts(client)
        response = await client.post("/v1/evaluate", json={**ids, "callback_url": url})
        assert response.status_code == 400
        assert response.json()["error"]["details"]["field"] == "callback_url"


async def test_callbacks_need_a_signing_secret(settings: Settings) -> None:
    async for _runtime, client in serving(settings):
        ids = await upload_texts(client)
        response = await client.post(
            "/v1/evaluate", json={**ids, "callback_url": "https://hooks.example.com/x"}
        )
        assert response.status_code == 400
        assert "APP_WEBHOOK_SECRET" in response.json()["error"]["message"]
