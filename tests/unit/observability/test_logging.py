from __future__ import annotations

import json
import logging

from cv_evaluator.observability.logging import JsonFormatter, job_id_var, request_id_var


def record(message: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("cv_evaluator.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_request_and_job_ids_and_extra_fields() -> None:
    request_token = request_id_var.set("req-7")
    job_token = job_id_var.set("job_1")
    try:
        line = JsonFormatter().format(record("job completed", cv_match_rate=0.8))
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)
    entry = json.loads(line)
    assert entry["message"] == "job completed"
    assert entry["request_id"] == "req-7"
    assert entry["job_id"] == "job_1"
    assert entry["cv_match_rate"] == 0.8
    assert entry["level"] == "INFO"


def test_lines_outside_a_request_have_no_ids() -> None:
    entry = json.loads(JsonFormatter().format(record("started")))
    assert "request_id" not in entry and "job_id" not in entry
