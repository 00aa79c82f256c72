"""Completion callbacks: signed, retried, restricted, and never able to change their job."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from cv_evaluator.bootstrap import Runtime, build_app, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.storage.migrate import upgrade
from cv_evaluator.storage.tables import callbacks
from tests.integration.api_helpers import upload_texts, wait_for_terminal

SECRET = "s3cret-for-tests"


class Receiver:
    """A local HTTP endpoint that records callbacks and answers with scripted statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    statuses: list[int] = []
    running = Receiver(statuses)
    yield running
    running.close()


async def started(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    upgrade(settings.database_url)
    runtime = build_runtime(settings)
    app = build_app(runtime, workers=1)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield runtime, client


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
    settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses.append(500)  # the first delivery fails
    async for runtime, client in started(with_callbacks(settings)):
        ids = await upload_texts(client)
        job = (await client.post("/v1/evaluate", json={**ids, "callback_url": receiver.url})).json()
        done = await wait_for_terminal(client, job["id"])
        row = await wait_for_callback(runtime, job["id"], "delivered")
        assert row.attempts == 2
        assert [a.get("status") for a in row.attempt_log] == [500, 200]
        headers, body = receiver.received[-1]
        expected = hmac.new(
            SECRET.encode(), headers["X-Signature-Timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["X-Signature"] == f"sha256={expected}"
        assert json.loads(body) == done  # the same document as GET /v1/result/{id}


async def test_a_failing_callback_never_changes_its_job(
    settings: Settings, receiver: Receiver
) -> None:
    receiver.statuses.extend([500] * 100)
    configured = with_callbacks(settings, app_callback_retry_window_seconds=0.3)
    async for runtime, client in started(configured):
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
    async for _runtime, client in started(signed):
        ids = await upload_texts(client)
        response = await client.post("/v1/evaluate", json={**ids, "callback_url": url})
        assert response.status_code == 400
        assert response.json()["error"]["details"]["field"] == "callback_url"


async def test_callbacks_need_a_signing_secret(settings: Settings) -> None:
    async for _runtime, client in started(settings):
        ids = await upload_texts(client)
        response = await client.post(
            "/v1/evaluate", json={**ids, "callback_url": "https://hooks.example.com/x"}
        )
        assert response.status_code == 400
        assert "APP_WEBHOOK_SECRET" in response.json()["error"]["message"]
