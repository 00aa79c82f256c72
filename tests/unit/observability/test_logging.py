from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from cv_evaluator.domain.errors import EvaluationFailed
from cv_evaluator.observability.logging import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    format_exception_safely,
    job_id_var,
    request_id_var,
)

SECRET = "jane.doe.4711@example.org"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("cv_evaluator.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_json_lines_carry_request_and_job_ids_and_extra_fields() -> None:
    request_token = request_id_var.set("req-7")
    job_token = job_id_var.set("job_1")
    try:
        line = JsonFormatter().format(record("job completed", attempt=2))
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)
    entry = json.loads(line)
    assert entry["message"] == "job completed"
    assert entry["request_id"] == "req-7"
    assert entry["job_id"] == "job_1"
    assert entry["attempt"] == 2
    assert entry["level"] == "INFO"
    assert entry["timestamp"].endswith("+00:00")


def test_the_event_is_the_callers_name_else_the_message_template() -> None:
    named = json.loads(JsonFormatter().format(record("job %s", "done", event="job_completed")))
    assert (named["event"], named["message"]) == ("job_completed", "job done")
    unnamed = json.loads(JsonFormatter().format(record("claimed %d jobs", 3)))
    assert (unnamed["event"], unnamed["message"]) == ("claimed %d jobs", "claimed 3 jobs")


def test_terminal_colour_copies_of_the_message_stay_out_of_json() -> None:
    coloured = record("Started server process [%d]", 7, color_message="\x1b[36m%d\x1b[0m")
    entry = json.loads(JsonFormatter().format(coloured))
    assert "color_message" not in entry
    assert entry["message"] == "Started server process [7]"


def test_lines_outside_a_request_have_no_ids() -> None:
    entry = json.loads(JsonFormatter().format(record("started")))
    assert "request_id" not in entry and "job_id" not in entry


def test_exception_messages_that_may_quote_input_are_withheld() -> None:
    try:
        try:
            raise ValueError(f"cannot parse {SECRET}")
        except ValueError as inner:
            raise EvaluationFailed("the local evaluator could not score this input") from inner
    except EvaluationFailed as exc:
        text = format_exception_safely(exc)
    assert SECRET not in text
    assert "ValueError (message withheld" in text
    # Our own messages and the frames (where it happened) are kept.
    assert "EvaluationFailed: the local evaluator could not score this input" in text
    assert "test_exception_messages_that_may_quote_input_are_withheld" in text
    assert text.index("ValueError") < text.index("EvaluationFailed")


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter("%(message)s")])
def test_formatters_log_tracebacks_without_withheld_messages(formatter: logging.Formatter) -> None:
    exc = raised(KeyError(SECRET))
    rec = record("evaluation attempt failed")
    rec.exc_info = (type(exc), exc, exc.__traceback__)
    line = formatter.format(rec)
    assert SECRET not in line
    assert "KeyError (message withheld" in line


def test_operating_system_messages_are_kept() -> None:
    text = format_exception_safely(raised(ConnectionRefusedError(111, "Connection refused")))
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in text


def test_logs_go_to_standard_output(monkeypatch: pytest.MonkeyPatch) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO", "json")
        logging.getLogger("cv_evaluator.test").info("hello", extra={"event": "greeting"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert json.loads(stdout.getvalue())["event"] == "greeting"
    assert stderr.getvalue() == ""
