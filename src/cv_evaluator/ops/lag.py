"""Burrow-style evaluation of a consumer group's lag over a window of offset samples.

Pure logic, no I/O: the Kafka check takes the samples and hands them here. A single lag figure
says little (a busy topic always has some); what tells a healthy group from a sick one is how
the committed offsets and the log end move across the window:

- OK: the lag is within the allowance now, or was at some sample, or commits advance and the
  lag is not growing in every interval (the consumers keep pace or catch up);
- WARN: commits advance but the lag grew in every interval (the consumers fall behind);
- REWIND (a WARN): a committed offset went backwards (an offset reset, or a replay);
- STALL (CRITICAL): the group has members, the committed offset did not move, lag is above the
  allowance (the consumers are stuck);
- STOP (CRITICAL): the same with no member in the group (the consumers are gone), or no
  consumer ever committed an offset while the topic holds messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import Any

from cv_evaluator.ops.model import Status


class Verdict(StrEnum):
    OK = "OK"
    WARN = "WARN"
    REWIND = "REWIND"
    STALL = "STALL"
    STOP = "STOP"

    @property
    def status(self) -> Status:
        return _STATUS[self]

    @property
    def rank(self) -> int:
        return _RANK[self]


_STATUS = {
    Verdict.OK: Status.OK,
    Verdict.WARN: Status.WARN,
    Verdict.REWIND: Status.WARN,
    Verdict.STALL: Status.CRITICAL,
    Verdict.STOP: Status.CRITICAL,
}
# Which partition speaks for the group: the gravest verdict, falling behind before rewound
# (a rewind is usually an operator's deliberate replay).
_RANK = {Verdict.OK: 0, Verdict.REWIND: 1, Verdict.WARN: 2, Verdict.STALL: 3, Verdict.STOP: 3}


@dataclass(frozen=True, slots=True)
class OffsetSample:
    """One partition at one instant: the group's committed offset and the log's bounds."""

    committed: int | None  # None: the group has no committed offset for this partition
    log_end: int  # the high watermark: offset of the next message to be written
    log_start: int = 0  # the oldest offset still retained

    @property
    def lag(self) -> int:
        """Messages the group has yet to process.

        Without a commit the consumers start from the oldest retained message; a commit older
        than the log start points at messages retention already deleted, so those are not lag.
        """
        position = self.log_start if self.committed is None else self.committed
        return max(0, self.log_end - max(position, self.log_start))

    def as_dict(self) -> dict[str, Any]:
        return {
            "committed": self.committed,
            "log_start": self.log_start,
            "log_end": self.log_end,
            "lag": self.lag,
        }


@dataclass(frozen=True, slots=True)
class PartitionVerdict:
    partition: int
    verdict: Verdict
    reason: str
    samples: tuple[OffsetSample, ...]

    @property
    def lag(self) -> int:
        return self.samples[-1].lag

    def as_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "lag": self.lag,
            "samples": [s.as_dict() for s in self.samples],
        }


@dataclass(frozen=True, slots=True)
class GroupVerdict:
    verdict: Verdict
    reason: str
    partitions: tuple[PartitionVerdict, ...]
    members: int

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def worst(self) -> PartitionVerdict | None:
        """The partition that speaks for the group: gravest verdict, then largest lag."""
        return _gravest(self.partitions)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for p in self.partitions if p.verdict is verdict)


def evaluate_partition(
    partition: int, samples: Sequence[OffsetSample], *, members: int, allowance: int
) -> PartitionVerdict:
    """Judge one partition from its samples, oldest first (at least two)."""
    if len(samples) < 2:
        raise ValueError("a lag trend needs at least two samples")
    window = tuple(samples)
    first, last = window[0], window[-1]
    lags = [s.lag for s in window]

    def verdict(kind: Verdict, reason: str) -> PartitionVerdict:
        return PartitionVerdict(partition, kind, reason, window)

    if last.lag <= allowance:
        return verdict(Verdict.OK, f"lag {last.lag} within the allowance of {allowance}")
    if any(lag <= allowance for lag in lags):
        return verdict(Verdict.OK, f"lag was within the allowance of {allowance} during the window")
    rewound = [
        (before.committed, after.committed)
        for before, after in pairwise(window)
        if before.committed is not None
        and (after.committed is None or after.committed < before.committed)
    ]
    if rewound:
        was, now = rewound[0]
        return verdict(
            Verdict.REWIND,
            f"committed offset went backwards from {was} to {now}",
        )
    if first.committed == last.committed:
        where = "no committed offset" if last.committed is None else f"at {last.committed}"
        if members == 0:
            return verdict(
                Verdict.STOP,
                f"committed offset not moving ({where}), lag {last.lag}, no consumer in the group",
            )
        return verdict(
            Verdict.STALL,
            f"committed offset not moving ({where}) although the group has {members} "
            f"member(s), lag {last.lag}",
        )
    if all(after > before for before, after in pairwise(lags)):
        return verdict(
            Verdict.WARN,
            f"commits advance but lag grew in every interval: {_trend(lags)}",
        )
    if last.lag < first.lag:
        return verdict(Verdict.OK, f"catching up: lag {_trend(lags)}")
    return verdict(Verdict.OK, f"keeping pace: lag {_trend(lags)}")


def evaluate_group(
    samples: Mapping[int, Sequence[OffsetSample]], *, members: int, allowance: int
) -> GroupVerdict:
    """Judge the group: every partition on its own, then the gravest one speaks for it."""
    verdicts = tuple(
        evaluate_partition(partition, series, members=members, allowance=allowance)
        for partition, series in sorted(samples.items())
    )
    never_committed = all(s.committed is None for series in samples.values() for s in series)
    retained = sum(series[-1].log_end - series[-1].log_start for series in samples.values())
    if never_committed and members == 0:
        # No commit anywhere and nobody in the group: the group does not exist. With messages
        # waiting that is a STOP whatever the allowance (nobody will ever read them).
        if retained > 0:
            return GroupVerdict(
                Verdict.STOP,
                f"no consumer has ever committed, {retained} message(s) waiting",
                verdicts,
                members,
            )
        return GroupVerdict(Verdict.OK, "no consumer yet and no message waiting", verdicts, members)
    worst = _gravest(verdicts)
    if worst is None:
        return GroupVerdict(Verdict.OK, "the topic has no partition to consume", verdicts, members)
    if worst.verdict is Verdict.OK:
        return GroupVerdict(
            Verdict.OK, "no partition is stalled, stopped or falling behind", verdicts, members
        )
    return GroupVerdict(
        worst.verdict, f"partition {worst.partition}: {worst.reason}", verdicts, members
    )


def _gravest(verdicts: Sequence[PartitionVerdict]) -> PartitionVerdict | None:
    return max(verdicts, key=lambda p: (p.verdict.rank, p.lag, -p.partition), default=None)


def _trend(lags: Sequence[int]) -> str:
    return " -> ".join(str(lag) for lag in lags)
