"""Ingestion: sniff a file's real type by content, refuse the dangerous, extract readable text."""

from __future__ import annotations

from cv_evaluator.ingest.limits import ReaderLimits
from cv_evaluator.ingest.reader import DocumentReader
from cv_evaluator.ingest.sniff import detect_media_type

__all__ = ["DocumentReader", "ReaderLimits", "detect_media_type"]
