from __future__ import annotations

import pytest

from cv_evaluator.ingest import DocumentReader


@pytest.fixture
def reader() -> DocumentReader:
    return DocumentReader()
