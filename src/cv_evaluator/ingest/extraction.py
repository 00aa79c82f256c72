"""What a format-specific extractor hands back before the common clean-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawExtraction:
    text: str
    hidden_text: str = ""
    page_count: int | None = None
    warnings: tuple[str, ...] = ()
