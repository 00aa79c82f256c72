"""Whatever bytes arrive, the reader answers with a document or a domain error, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cv_evaluator.domain.errors import CvEvaluatorError
from cv_evaluator.ingest import DocumentReader
from tests.support.documents import make_docx, make_pdf

_READER = DocumentReader(max_pages=5, max_text_chars=10_000)
_SEEDS = (
    make_pdf(["Hello world", "Python engineer"], hidden=["secret"]),
    make_docx(["Hello world", "Python\tengineer"], hidden=["secret"]),
    b"# Title\n\n- one\n- [two](https://example.com)\n",
)
_PREFIXES = (b"%PDF-1.7\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"MZ", b"BM")


def _splice(seed: bytes, position: int, patch: bytes) -> bytes:
    at = position % len(seed)
    return seed[:at] + patch + seed[at + len(patch) :]


def _truncate(seed: bytes, position: int) -> bytes:
    return seed[: position % len(seed)]


_ANY_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.builds(
        lambda prefix, rest: prefix + rest, st.sampled_from(_PREFIXES), st.binary(max_size=512)
    ),
    st.builds(
        _splice,
        st.sampled_from(_SEEDS),
        st.integers(0, 1 << 20),
        st.binary(min_size=1, max_size=32),
    ),
    st.builds(_truncate, st.sampled_from(_SEEDS), st.integers(0, 1 << 20)),
)


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=_ANY_BYTES, filename=st.sampled_from(["cv.pdf", "cv.docx", "cv.md", "cv", ""]))
def test_read_only_raises_domain_errors(data: bytes, filename: str) -> None:
    try:
        document = _READER.read(data, filename)
    except CvEvaluatorError:
        return
    assert isinstance(document.text, str)
    assert document.text
    assert "\x00" not in document.text
    assert len(document.text) <= 10_000
