"""The main job through the HTTP API: upload → evaluate → result."""

from __future__ import annotations

import httpx
import pytest
import yaml

from cv_evaluator.bootstrap import Runtime
from cv_evaluator.domain.errors import EvaluationFailed
from cv_evaluator.evaluation.rubric import default_rubric_text
from tests.integration.api_helpers import upload_texts, wait_for_terminal
from tests.support.documents import SAMPLE_CV_TEXT, make_docx, make_pdf
from tests.support.fakes import ScriptedEvaluator

CORE_FIELDS = (
    "cv_match_rate",
    "cv_feedback",
    "project_score",
    "project_feedback",
    "overall_summary",
)


async def test_upload_evaluate_result_round_trip(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ids = await upload_texts(client)
    response = await client.post("/v1/evaluate", json=ids, headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-1"
    queued = response.json()
    assert queued["status"] == "queued" and queued["id"].startswith("job_")

    body = await wait_for_terminal(client, queued["id"])
    assert body["status"] == "completed", body
    result = body["result"]
    for field in CORE_FIELDS:
        assert field in result
    assert 0 < result["cv_match_rate"] <= 1
    assert 1 <= result["project_score"] <= 10
    keys = {item["key"] for item in result["breakdown"]}
    assert {"technical_skills", "experience_level", "correctness", "creativity"} <= keys
    receipt = result["receipt"]
    assert receipt["evaluator"] == runtime.evaluator.name
    assert receipt["rubric"]["sha256"] == runtime_rubric_hash()
    assert receipt["attempts"][0]["outcome"] == "completed"
    async with runtime.uow() as uow:
        stored = await uow.jobs.get(queued["id"])
    assert stored is not None and stored.request_id == "trace-1"


def runtime_rubric_hash() -> str:
    from cv_evaluator.evaluation.rubric import default_rubric

    return default_rubric().content_hash


@pytest.mark.parametrize(
    ("cv_name", "cv_bytes"),
    [
        ("cv.pdf", make_pdf(SAMPLE_CV_TEXT.split("\n\n"))),
        ("cv.docx", make_docx(SAMPLE_CV_TEXT.split("\n\n"))),
        ("cv.txt", SAMPLE_CV_TEXT.encode()),
    ],
)
async def test_every_supported_format_evaluates(
    client: httpx.AsyncClient, cv_name: str, cv_bytes: bytes
) -> None:
    ids = await upload_texts(client, cv=cv_bytes, names=(cv_name, "project.txt"))
    job = (await client.post("/v1/evaluate", json=ids)).json()
    body = await wait_for_terminal(client, job["id"])
    assert body["status"] == "completed"


async def test_a_job_description_in_the_request_is_the_one_used(client: httpx.AsyncClient) -> None:
    ids = await upload_texts(client)
    default = (await client.post("/v1/evaluate", json=ids)).json()
    custom_jd = "# Pastry chef\n\n## Requirements\n- Laminated doughs\n- Sourdough fermentation\n"
    custom = (await client.post("/v1/evaluate", json={**ids, "job_description": custom_jd})).json()
    first = (await wait_for_terminal(client, default["id"]))["result"]
    second = (await wait_for_terminal(client, custom["id"]))["result"]
    assert first["receipt"]["reference_documents"] != second["receipt"]["reference_documents"]
    assert second["cv_match_rate"] < first["cv_match_rate"]


async def test_a_custom_rubric_changes_the_weights(client: httpx.AsyncClient) -> None:
    rubric = yaml.safe_load(default_rubric_text())
    ids = await upload_texts(client)
    rubric["version"] = "custom-1"
    job = (
        await client.post("/v1/evaluate", json={**ids, "scoring_rubric": yaml.safe_dump(rubric)})
    ).json()
    result = (await wait_for_terminal(client, job["id"]))["result"]
    assert result["receipt"]["rubric"]["version"] == "custom-1"
    assert result["receipt"]["rubric"]["sha256"] != runtime_rubric_hash()


async def test_idempotency_key_returns_the_same_job(client: httpx.AsyncClient) -> None:
    ids = await upload_texts(client)
    headers = {"Idempotency-Key": "abc-123"}
    first = await client.post("/v1/evaluate", json=ids, headers=headers)
    second = await client.post("/v1/evaluate", json=ids, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    other = await client.post(
        "/v1/evaluate", json={**ids, "job_description": "Other"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "CONFLICT"


async def test_result_etag_and_304(client: httpx.AsyncClient) -> None:
    ids = await upload_texts(client)
    job = (await client.post("/v1/evaluate", json=ids)).json()
    await wait_for_terminal(client, job["id"])
    first = await client.get(f"/v1/result/{job['id']}")
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    cached = await client.get(f"/v1/result/{job['id']}", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    stale = await client.get(f"/v1/result/{job['id']}", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.json() == first.json()


async def test_only_completed_results_are_cached(client: httpx.AsyncClient) -> None:
    ids = await upload_texts(client)
    job = (await client.post("/v1/evaluate", json=ids)).json()
    before = await client.get(f"/v1/result/{job['id']}")
    done = await wait_for_terminal(client, job["id"])
    # The first read saw a non-terminal state; it must not have been kept.
    assert before.json()["status"] in {"queued", "processing", "completed"}
    assert done["status"] == "completed"
    again = await client.get(f"/v1/result/{job['id']}")
    assert again.json() == done


async def test_reading_a_result_never_changes_the_job(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ids = await upload_texts(client)
    job = (await client.post("/v1/evaluate", json=ids)).json()
    done = await wait_for_terminal(client, job["id"])
    for _ in range(3):
        assert (await client.get(f"/v1/result/{job['id']}")).json() == done


async def test_health_readiness_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"database", "queue", "evaluator", "disk", "maintenance"}
    assert ready.json()["maintenance"] is False
    assert ready.json()["checks"]["evaluator"]["self_test_ms"] > 0
    ids = await upload_texts(client)
    job = (await client.post("/v1/evaluate", json=ids)).json()
    await wait_for_terminal(client, job["id"])
    metrics = (await client.get("/metrics")).text
    for name in (
        "http_requests_total",
        "http_request_duration_seconds",
        "jobs_enqueued_total",
        "jobs_processing",
        "jobs_completed_total",
        "evaluation_cv_match_rate",
        "evaluation_project_score",
        "evaluation_duration_seconds",
    ):
        assert name in metrics
    assert 'route="/v1/result/{job_id}"' in metrics
    assert "jobs_enqueued_total 1.0" in metrics
    assert "jobs_completed_total 1.0" in metrics
    spec = (await client.get("/openapi.json")).json()
    assert {
        "/v1/upload",
        "/v1/evaluate",
        "/v1/result/{job_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(spec["paths"])
    responses = spec["paths"]["/v1/evaluate"]["post"]["responses"]
    assert {"200", "400", "404", "409", "413", "415", "500", "503"} <= set(responses)
    assert responses["409"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ErrorEnvelope"
    )
    yaml_spec = await client.get("/openapi.yaml")
    assert yaml.safe_load(yaml_spec.text)["paths"].keys() == spec["paths"].keys()


async def test_readiness_fails_without_migrations(
    settings_unmigrated_client: httpx.AsyncClient,
) -> None:
    ready = await settings_unmigrated_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["reason"] == "not migrated"


async def test_readiness_fails_when_the_evaluator_self_test_fails(runtime: Runtime) -> None:
    runtime.evaluator = ScriptedEvaluator([EvaluationFailed("model returned nonsense")])
    await runtime.warm_up()
    checks = await runtime.readiness()
    assert checks["evaluator"]["ok"] is False
    assert "EvaluationFailed" in checks["evaluator"]["reason"]
