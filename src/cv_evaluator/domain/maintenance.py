"""System-wide maintenance mode: while it is on, new work is refused and workers stop claiming."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MaintenanceState:
    enabled: bool = False
    reason: str = ""
    started_by: str = ""
    started_at: datetime | None = None
    # The mode ends by itself at this time, so a forgotten "stop" cannot keep the service closed.
    ends_at: datetime | None = None
    retry_after_seconds: int = 300
    bypass_token_hash: str | None = None
    bypass_expires_at: datetime | None = None
    updated_at: datetime | None = None
    # A window resumes the workers to verify the service with a smoke job while the public is
    # still refused; otherwise workers stop claiming whenever the mode is on.
    workers_paused: bool = True

    def active(self, now: datetime) -> bool:
        return self.enabled and (self.ends_at is None or now < self.ends_at)

    def pauses_workers(self, now: datetime) -> bool:
        return self.active(now) and self.workers_paused

    def expired(self, now: datetime) -> bool:
        return self.enabled and self.ends_at is not None and now >= self.ends_at

    def admits(self, bypass_token: str | None, now: datetime) -> bool:
        """Whether a request carrying ``bypass_token`` may pass while the mode is on."""
        if not bypass_token or self.bypass_token_hash is None:
            return False
        if self.bypass_expires_at is not None and now >= self.bypass_expires_at:
            return False
        return hmac.compare_digest(hash_token(bypass_token), self.bypass_token_hash)

    def retry_after(self, now: datetime) -> int:
        """Seconds a refused client should wait: the planned end when known, else the hint."""
        if self.ends_at is not None:
            return max(1, min(self.retry_after_seconds, int((self.ends_at - now).total_seconds())))
        return self.retry_after_seconds

    def describe(self, now: datetime) -> dict[str, Any]:
        return {
            "enabled": self.active(now),
            "reason": self.reason if self.active(now) else "",
            "started_by": self.started_by or None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "expired": self.expired(now),
            "retry_after_seconds": self.retry_after_seconds,
            "workers_paused": self.pauses_workers(now),
            "bypass_token": (
                "set" if self.bypass_token_hash and not self._bypass_expired(now) else "none"
            ),
            "bypass_expires_at": (
                self.bypass_expires_at.isoformat() if self.bypass_expires_at else None
            ),
        }

    def _bypass_expired(self, now: datetime) -> bool:
        return self.bypass_expires_at is not None and now >= self.bypass_expires_at


@dataclass(frozen=True, slots=True)
class MaintenanceAudit:
    at: datetime
    actor: str
    action: str  # start | stop
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
