from __future__ import annotations

from cv_evaluator.domain.ids import IdKind, kind_of, new_id


def test_ids_are_url_safe_time_ordered_and_typed() -> None:
    early = new_id(IdKind.JOB, now_ms=1_700_000_000_000)
    late = new_id(IdKind.JOB, now_ms=1_700_000_000_001)
    assert early < late
    assert kind_of(early) is IdKind.JOB
    assert kind_of(new_id(IdKind.CV)) is IdKind.CV
    assert all(ch.isalnum() or ch == "_" for ch in early)


def test_foreign_strings_have_no_kind() -> None:
    for value in [
        "",
        "job_",
        "job_short",
        "zzz_01JAAAAAAAAAAAAAAAAAAAAAAA",
        "../etc/passwd",
        "job_01JAAAAAAAAAAAAAAAAAAAAAAI",
    ]:
        assert kind_of(value) is None
