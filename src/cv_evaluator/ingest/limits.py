"""The resource ceilings that keep one hostile upload from exhausting a worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReaderLimits:
    max_pages: int = 200
    max_uncompressed_bytes: int = 50 * 1024 * 1024
    max_compression_ratio: int = 100
    max_text_chars: int = 500_000
    max_archive_members: int = 1000

    def __post_init__(self) -> None:
        for name in (
            "max_pages",
            "max_uncompressed_bytes",
            "max_compression_ratio",
            "max_text_chars",
            "max_archive_members",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer")
