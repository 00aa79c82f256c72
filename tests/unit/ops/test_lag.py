"""The Burrow-style lag rules, one by one, with their boundaries."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cv_evaluator.ops.lag import (
    GroupVerdict,
    OffsetSample,
    Verdict,
    evaluate_group,
    evaluate_partition,
)
from cv_evaluator.ops.model import Status

ALLOWANCE = 10


def series(*points: tuple[int | None, int]) -> list[OffsetSample]:
    """Samples from (committed, log_end) pairs, oldest first."""
    return [OffsetSample(committed=c, log_end=end) for c, end in points]


def judge(
    points: Sequence[tuple[int | None, int]], *, members: int = 1, allowance: int = ALLOWANCE
) -> Verdict:
    return evaluate_partition(0, series(*points), members=members, allowance=allowance).verdict


# --- the lag of one sample


def test_lag_is_the_distance_from_the_commit_to_the_log_end() -> None:
    assert OffsetSample(committed=40, log_end=100).lag == 60


def test_equal_offsets_mean_no_lag() -> None:
    assert OffsetSample(committed=100, log_end=100).lag == 0


def test_without_a_commit_the_lag_counts_from_the_log_start() -> None:
    assert OffsetSample(committed=None, log_end=100, log_start=30).lag == 70
    assert OffsetSample(committed=None, log_end=0).lag == 0


def test_a_commit_behind_the_log_start_does_not_count_deleted_messages() -> None:
    assert OffsetSample(committed=5, log_end=100, log_start=80).lag == 20


def test_a_sample_reports_its_figures() -> None:
    assert OffsetSample(committed=3, log_end=9, log_start=1).as_dict() == {
        "committed": 3,
        "log_start": 1,
        "log_end": 9,
        "lag": 6,
    }


# --- OK


def test_lag_exactly_at_the_allowance_is_ok_even_when_nothing_moves() -> None:
    assert judge([(90, 100), (90, 100), (90, 100)], members=0) is Verdict.OK


def test_lag_one_above_the_allowance_with_nothing_moving_is_not_ok() -> None:
    assert judge([(89, 100), (89, 100), (89, 100)], members=0) is Verdict.STOP


def test_lag_within_the_allowance_at_the_latest_sample_is_ok() -> None:
    assert judge([(0, 500), (0, 500), (495, 500)]) is Verdict.OK


def test_lag_within_the_allowance_at_any_sample_is_ok() -> None:
    # Caught up in the middle, behind again now: a burst the consumers are handling.
    assert judge([(100, 150), (150, 155), (155, 300)]) is Verdict.OK


def test_an_empty_partition_is_ok() -> None:
    assert judge([(None, 0), (None, 0)], members=0) is Verdict.OK


def test_commits_advancing_faster_than_the_log_end_is_catching_up() -> None:
    verdict = evaluate_partition(
        3, series((0, 1000), (300, 1100), (600, 1200)), members=2, allowance=ALLOWANCE
    )
    assert verdict.verdict is Verdict.OK
    assert "catching up" in verdict.reason and "1000 -> 800 -> 600" in verdict.reason


def test_commits_keeping_pace_with_a_steady_lag_is_ok() -> None:
    verdict = evaluate_partition(
        0, series((0, 100), (50, 150), (100, 200)), members=1, allowance=ALLOWANCE
    )
    assert verdict.verdict is Verdict.OK
    assert "keeping pace" in verdict.reason


def test_lag_that_grew_then_shrank_is_not_falling_behind() -> None:
    assert judge([(0, 100), (10, 150), (60, 160)]) is Verdict.OK


# --- WARN: falling behind


def test_commits_advancing_while_lag_grows_in_every_interval_is_warn() -> None:
    verdict = evaluate_partition(
        1, series((0, 100), (10, 200), (20, 300)), members=1, allowance=ALLOWANCE
    )
    assert verdict.verdict is Verdict.WARN
    assert verdict.verdict.status is Status.WARN
    assert "100 -> 190 -> 280" in verdict.reason


def test_growth_must_hold_in_every_interval_for_warn() -> None:
    # Grew, then held steady: not falling behind over the whole window.
    assert judge([(0, 100), (10, 200), (110, 300)]) is Verdict.OK


def test_two_samples_suffice_for_warn() -> None:
    assert judge([(0, 100), (5, 200)]) is Verdict.WARN


def test_a_first_commit_during_the_window_counts_as_advancing() -> None:
    assert judge([(None, 100), (1, 200)]) is Verdict.WARN


# --- STALL and STOP


def test_commit_not_moving_with_members_and_lag_above_allowance_is_stall() -> None:
    verdict = evaluate_partition(
        0, series((40, 100), (40, 120), (40, 150)), members=2, allowance=ALLOWANCE
    )
    assert verdict.verdict is Verdict.STALL
    assert verdict.verdict.status is Status.CRITICAL
    assert "at 40" in verdict.reason and "2 member(s)" in verdict.reason


def test_commit_not_moving_without_members_is_stop() -> None:
    verdict = evaluate_partition(0, series((40, 100), (40, 100)), members=0, allowance=ALLOWANCE)
    assert verdict.verdict is Verdict.STOP
    assert verdict.verdict.status is Status.CRITICAL


def test_no_commit_at_all_with_members_and_messages_is_stall() -> None:
    verdict = evaluate_partition(0, series((None, 50), (None, 50)), members=1, allowance=ALLOWANCE)
    assert verdict.verdict is Verdict.STALL
    assert "no committed offset" in verdict.reason


def test_a_stalled_partition_whose_log_end_also_stands_still_is_still_stalled() -> None:
    assert judge([(0, 100), (0, 100), (0, 100)], members=3) is Verdict.STALL


# --- REWIND


def test_a_commit_going_backwards_is_rewind() -> None:
    verdict = evaluate_partition(
        0, series((500, 1000), (100, 1000), (150, 1000)), members=1, allowance=ALLOWANCE
    )
    assert verdict.verdict is Verdict.REWIND
    assert verdict.verdict.status is Status.WARN
    assert "500 to 100" in verdict.reason


def test_a_commit_that_disappears_is_rewind() -> None:
    assert judge([(500, 1000), (None, 1000)]) is Verdict.REWIND


def test_a_rewind_that_caught_up_is_ok() -> None:
    assert judge([(500, 505), (100, 505), (505, 505)]) is Verdict.OK


# --- the window


def test_one_sample_is_not_a_trend() -> None:
    with pytest.raises(ValueError, match="two samples"):
        evaluate_partition(0, series((0, 100)), members=1, allowance=ALLOWANCE)


def test_a_partition_verdict_shows_its_samples() -> None:
    verdict = evaluate_partition(7, series((40, 100), (40, 120)), members=1, allowance=ALLOWANCE)
    shown = verdict.as_dict()
    assert shown["partition"] == 7
    assert shown["verdict"] == "STALL"
    assert shown["lag"] == 80
    assert [s["lag"] for s in shown["samples"]] == [60, 80]


# --- the group


def group(partitions: dict[int, list[tuple[int | None, int]]], *, members: int) -> GroupVerdict:
    return evaluate_group(
        {p: series(*points) for p, points in partitions.items()},
        members=members,
        allowance=ALLOWANCE,
    )


def test_the_gravest_partition_speaks_for_the_group() -> None:
    verdict = group(
        {
            0: [(100, 100), (200, 200)],  # OK
            1: [(0, 100), (10, 200)],  # WARN
            2: [(5, 50), (5, 60)],  # STALL
            3: [(500, 1000), (100, 1000)],  # REWIND
        },
        members=2,
    )
    assert verdict.verdict is Verdict.STALL
    assert verdict.status is Status.CRITICAL
    assert verdict.worst is not None and verdict.worst.partition == 2
    assert verdict.reason.startswith("partition 2:")
    assert verdict.count(Verdict.STALL) == 1
    assert verdict.total_lag == 0 + 190 + 55 + 900


def test_falling_behind_outranks_a_rewind() -> None:
    verdict = group({0: [(0, 100), (10, 200)], 1: [(500, 1000), (100, 1000)]}, members=1)
    assert verdict.verdict is Verdict.WARN


def test_among_equal_verdicts_the_largest_lag_speaks() -> None:
    verdict = group({0: [(0, 100), (0, 100)], 1: [(0, 500), (0, 500)]}, members=1)
    assert verdict.worst is not None and verdict.worst.partition == 1


def test_a_healthy_group_is_ok() -> None:
    verdict = group({0: [(90, 100), (190, 200)], 1: [(0, 0), (0, 0)]}, members=1)
    assert verdict.verdict is Verdict.OK
    assert verdict.status is Status.OK
    assert verdict.total_lag == 10


def test_a_group_that_never_committed_on_a_topic_with_messages_is_stop() -> None:
    # Even within the allowance: with nobody in the group, nobody will ever read them.
    verdict = group({0: [(None, 3), (None, 3)], 1: [(None, 0), (None, 0)]}, members=0)
    assert verdict.verdict is Verdict.STOP
    assert "no consumer has ever committed" in verdict.reason
    assert "3 message(s)" in verdict.reason


def test_a_group_that_never_committed_on_an_empty_topic_is_ok() -> None:
    verdict = group({0: [(None, 0), (None, 0)], 1: [(None, 0), (None, 0)]}, members=0)
    assert verdict.verdict is Verdict.OK


def test_messages_removed_by_retention_do_not_wait_for_anyone() -> None:
    samples = {0: [OffsetSample(None, log_end=50, log_start=50)] * 2}
    assert evaluate_group(samples, members=0, allowance=ALLOWANCE).verdict is Verdict.OK


def test_a_new_group_with_members_follows_the_partition_rules() -> None:
    # Members have joined but not committed yet: a few messages within the allowance are fine.
    assert group({0: [(None, 3), (None, 3)]}, members=1).verdict is Verdict.OK


def test_a_topic_without_partitions_is_ok() -> None:
    verdict = evaluate_group({}, members=1, allowance=ALLOWANCE)
    assert verdict.verdict is Verdict.OK
    assert verdict.worst is None
    assert verdict.total_lag == 0
