"""The service probe's arithmetic, and the scripted probe the window tests rely on."""

from __future__ import annotations

import asyncio

import pytest

from cv_evaluator.ops.probe import ProbeResult, RequestCounts, smoke_documents
from tests.support.fake_probe import DOWN, HEALTHY, FakeProbe


def test_the_error_rate_counts_only_answers_since_the_previous_look() -> None:
    earlier = RequestCounts(total=100, server_errors=5)
    later = RequestCounts(total=150, server_errors=15)
    assert later.error_rate_since(earlier) == pytest.approx(0.2)
    assert later.error_rate_since(None) is None
    assert earlier.error_rate_since(earlier) == 0.0


def test_a_restarted_instance_does_not_produce_a_negative_or_invented_rate() -> None:
    before_restart = RequestCounts(total=500, server_errors=50)
    after_restart = RequestCounts(total=20, server_errors=0)
    assert after_restart.error_rate_since(before_restart) is None


def test_the_smoke_documents_ship_with_the_package() -> None:
    cv, project = smoke_documents()
    assert b"SKILLS" in cv and b"Project report" in project
    # Built-in test data, never a real person.
    assert b"@" not in cv


def test_the_fake_probe_answers_in_script_order_and_repeats_the_last() -> None:
    probe = FakeProbe(health=[HEALTHY, DOWN])

    async def look() -> list[bool]:
        return [(await probe.health()).ok for _ in range(4)]

    assert asyncio.run(look()) == [True, False, False, False]


def test_the_fake_probe_raises_scripted_interruptions_and_records_smoke_calls() -> None:
    probe = FakeProbe(smoke=[ProbeResult(True, "ok"), KeyboardInterrupt()])

    async def smoke() -> ProbeResult:
        return await probe.smoke_test(bypass_token="t", idempotency_key="k", timeout_seconds=1)

    assert asyncio.run(smoke()).ok
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(smoke())
    assert [c["bypass_token"] for c in probe.smoke_calls] == ["t", "t"]
