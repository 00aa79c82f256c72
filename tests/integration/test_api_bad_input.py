"""Every bad input gets a clear error with a stable code, and nothing is stored half-way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cv_evaluator.bootstrap import Runtime
from cv_evaluator.storage.tables import jobs, uploads
from tests.integration.api_helpers import upload_texts
from tests.support.documents import (
    SAMPLE_PROJECT_TEXT,
    make_corrupt_pdf,
    make_elf,
    make_scanned_pdf,
    make_zip,
    make_zip_bomb_docx,
)

PROJECT = ("project.txt", SAMPLE_PROJECT_TEXT.encode())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"]
    error: dict[str, Any] = body["error"]
    return error


async def count_rows(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


def stored_blobs(runtime: Runtime) -> list[str]:
    root = runtime.settings.data_dir / "uploads"
    return [p.name for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    ("filename", "data", "status", "code"),
    [
        ("cv.txt", b"", 422, "NO_EXTRACTABLE_TEXT"),
        ("cv.txt", b"   \n\t  ", 422, "NO_EXTRACTABLE_TEXT"),
        ("cv.pdf", b"\x00\x01\x02\xff binary", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("cv.pdf", make_elf(), 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("cv.pdf", make_zip(), 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("cv.pdf", make_corrupt_pdf(), 422, "UNPROCESSABLE_DOCUMENT"),
        ("cv.pdf", make_scanned_pdf(), 422, "NO_EXTRACTABLE_TEXT"),
        ("cv.docx", make_zip_bomb_docx(), 422, "UNPROCESSABLE_DOCUMENT"),
    ],
)
async def test_bad_documents_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, runtime: Runtime, filename: str, data: bytes, status: int, code: str
) -> None:
    response = await client.post("/v1/upload", files={"cv": (filename, data), "project": PROJECT})
    error = assert_error(response, status, code)
    assert error["details"]["field"] == "cv"
    assert await count_rows(runtime, uploads) == 0
    assert stored_blobs(runtime) == []


async def test_a_bad_project_leaves_no_cv_behind(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await client.post(
        "/v1/upload",
        files={"cv": ("cv.txt", b"Python developer"), "project": ("p.pdf", make_elf())},
    )
    assert assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")["details"]["field"] == "project"
    assert await count_rows(runtime, uploads) == 0
    assert stored_blobs(runtime) == []


async def test_a_text_file_renamed_to_pdf_is_read_as_text(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/upload", files={"cv": ("cv.pdf", b"Plain text CV: Python, SQL"), "project": PROJECT}
    )
    assert response.status_code == 200


async def test_missing_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/upload", files={"cv": ("cv.txt", b"Python")})
    assert assert_error(response, 400, "INVALID_ARGUMENT")["details"]["missing"] == ["project"]


async def test_wrong_content_type_for_upload(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/upload", json={"cv": "text"})
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_oversized_upload_is_refused_from_the_header(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    big = b"a" * (2 * runtime.settings.max_upload_bytes + 128 * 1024)
    response = await client.post("/v1/upload", files={"cv": ("cv.txt", big), "project": PROJECT})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await count_rows(runtime, uploads) == 0


async def test_oversized_streamed_upload_is_cut_off(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    limit = runtime.settings.max_upload_bytes
    chunk = b"a" * (1024 * 1024)
    sent = 0

    async def body() -> Any:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="cv"; filename="cv.txt"\r\n\r\n'
        # Far more than the limit, with no Content-Length: the server must stop reading.
        while sent < 5 * limit:
            sent += len(chunk)
            yield chunk

    response = await client.post(
        "/v1/upload", content=body(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert sent < 5 * limit


async def test_one_file_over_the_per_file_limit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # The body as a whole is within bounds (two files may be sent); the single file is not.
    big = b"a" * (runtime.settings.max_upload_bytes + 10)
    response = await client.post("/v1/upload", files={"cv": ("cv.txt", big), "project": PROJECT})
    assert assert_error(response, 413, "PAYLOAD_TOO_LARGE")["details"]["field"] == "cv"


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/evaluate", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "INVALID_ARGUMENT")


async def test_wrong_content_type_for_evaluate(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/evaluate", content=b"cv_id=1", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_missing_ids(client: httpx.AsyncClient) -> None:
    error = assert_error(
        await client.post("/v1/evaluate", json={"cv_id": "x"}), 400, "INVALID_ARGUMENT"
    )
    assert error["details"]["problems"][0]["field"] == "project_id"


async def test_unknown_and_wrong_kind_ids(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = await upload_texts(client)
    unknown = await client.post(
        "/v1/evaluate", json={**ids, "cv_id": "cv_01JAAAAAAAAAAAAAAAAAAAAAAA"}
    )
    assert_error(unknown, 404, "NOT_FOUND")
    swapped = await client.post(
        "/v1/evaluate", json={"cv_id": ids["project_id"], "project_id": ids["cv_id"]}
    )
    assert_error(swapped, 400, "INVALID_ARGUMENT")
    assert await count_rows(runtime, jobs) == 0


async def test_overlong_texts(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = await upload_texts(client)
    too_long = "x" * (runtime.settings.max_reference_chars + 1)
    response = await client.post("/v1/evaluate", json={**ids, "job_description": too_long})
    assert assert_error(response, 400, "INVALID_ARGUMENT")["details"]["field"] == "job_description"


async def test_invalid_rubric(client: httpx.AsyncClient) -> None:
    ids = await upload_texts(client)
    response = await client.post(
        "/v1/evaluate", json={**ids, "scoring_rubric": "cv: {}\nproject: 3"}
    )
    assert_error(response, 400, "INVALID_RUBRIC")


async def test_unknown_result_and_route(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/result/job_01JAAAAAAAAAAAAAAAAAAAAAAA"), 404, "NOT_FOUND")
    assert_error(await client.get("/v1/result/../../etc/passwd"), 404, "NOT_FOUND")
    assert_error(await client.get("/nope"), 404, "NOT_FOUND")
    assert_error(await client.delete("/v1/upload"), 405, "METHOD_NOT_ALLOWED")


async def test_request_id_is_generated_when_absent_or_unsafe(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
