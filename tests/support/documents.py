"""Deterministic test documents: PDFs, DOCX files, hostile archives and realistic sample texts.

Every generator returns ``bytes`` and gives the same bytes on every call, so tests can hash them.
PDFs use the core Helvetica font, which only covers Latin-1: keep PDF text inside that range.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal
from xml.sax.saxutils import escape

from fpdf import FPDF
from fpdf.enums import TextMode

PdfHiddenStyle = Literal["white", "tiny", "white_tiny", "invisible"]
DocxHiddenStyle = Literal["vanish", "white", "tiny"]

_FIXED_DATE = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
_FIXED_ZIP_TIME = (2024, 1, 2, 3, 4, 6)
_FONT = "Helvetica"
_FONT_SIZE = 11
_TINY_FONT_SIZE = 1
_LINE_HEIGHT = 6

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_PACKAGE_RELS_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>tests.support.documents</Application><Pages>{pages}</Pages></Properties>"
)
_DOCX_HIDDEN_PROPERTIES: dict[DocxHiddenStyle, str] = {
    "vanish": "<w:vanish/>",
    "white": '<w:color w:val="FFFFFF"/>',
    "tiny": '<w:sz w:val="2"/>',
}


# --------------------------------------------------------------------------------------------
# PDF


def make_pdf(
    paragraphs: list[str],
    *,
    hidden: list[str] | None = None,
    hidden_style: PdfHiddenStyle = "white_tiny",
    paragraphs_per_page: int | None = None,
) -> bytes:
    """A text PDF with one block per paragraph; ``hidden`` paragraphs follow, unreadable.

    Hidden paragraphs come last because a PDF's text render mode persists until changed, and
    fpdf2 does not reset it: anything drawn after "invisible" text would be invisible too.
    """
    pdf = _new_pdf()
    pdf.add_page()
    pdf.set_font(_FONT, size=_FONT_SIZE)
    for index, paragraph in enumerate(paragraphs):
        if paragraphs_per_page and index and index % paragraphs_per_page == 0:
            pdf.add_page()
        _write_paragraph(pdf, paragraph)
    for paragraph in hidden or []:
        _write_hidden_paragraph(pdf, paragraph, hidden_style)
    return bytes(pdf.output())


def make_scanned_pdf(pages: int = 1) -> bytes:
    """Pages that hold only a picture and a frame, like a scan without OCR: no text at all."""
    pdf = _new_pdf()
    image = _grey_stripes_png()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_fill_color(230, 230, 230)
        pdf.rect(15, 15, 180, 260, style="DF")
        pdf.image(io.BytesIO(image), x=30, y=30, w=150)
    return bytes(pdf.output())


def make_encrypted_pdf(paragraphs: list[str], *, user_password: str) -> bytes:
    """A PDF that needs ``user_password`` to open (an empty one makes it owner-only)."""
    pdf = _new_pdf()
    pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    pdf.add_page()
    pdf.set_font(_FONT, size=_FONT_SIZE)
    for paragraph in paragraphs:
        _write_paragraph(pdf, paragraph)
    return bytes(pdf.output())


def make_corrupt_pdf() -> bytes:
    """Starts like a PDF, then breaks off inside the first object: no xref, no trailer."""
    return (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n"
        b"stream\nthis is not a valid PDF body\n" + bytes(range(256)) * 2
    )


def _new_pdf() -> FPDF:
    pdf = FPDF()
    # The creation date feeds the document id; pinning it makes the output byte-for-byte stable.
    pdf.set_creation_date(_FIXED_DATE)
    return pdf


def _write_paragraph(pdf: FPDF, paragraph: str) -> None:
    pdf.multi_cell(0, _LINE_HEIGHT, paragraph, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(_LINE_HEIGHT / 2)


def _write_hidden_paragraph(pdf: FPDF, paragraph: str, style: PdfHiddenStyle) -> None:
    if style in ("white", "white_tiny"):
        pdf.set_text_color(255, 255, 255)
    if style in ("tiny", "white_tiny"):
        pdf.set_font_size(_TINY_FONT_SIZE)
    if style == "invisible":
        pdf.text_mode = TextMode.INVISIBLE
    line_height = _TINY_FONT_SIZE if style in ("tiny", "white_tiny") else _LINE_HEIGHT
    pdf.multi_cell(0, line_height, paragraph, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font_size(_FONT_SIZE)


def _grey_stripes_png(width: int = 64, height: int = 64) -> bytes:
    rows = b"".join(
        b"\x00" + bytes((x * 4 + y * 2) % 256 for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 9))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    checksum = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", checksum)


# --------------------------------------------------------------------------------------------
# DOCX


def make_docx(
    paragraphs: list[str],
    *,
    hidden: list[str] | None = None,
    hidden_style: DocxHiddenStyle = "vanish",
    pages: int | None = 1,
) -> bytes:
    """A minimal valid DOCX. In a paragraph, ``\\t`` becomes a tab and ``\\n`` a line break.

    Each hidden paragraph is a visible-looking paragraph whose run is hidden by ``hidden_style``;
    ``pages`` goes into docProps/app.xml (``None`` leaves that part out).
    """
    body = [_docx_paragraph(paragraph) for paragraph in paragraphs]
    properties = _DOCX_HIDDEN_PROPERTIES[hidden_style]
    body.extend(_docx_paragraph(paragraph, properties) for paragraph in hidden or [])
    return docx_package(document_xml(body), pages=pages)


def document_xml(body_parts: list[str]) -> bytes:
    """A word/document.xml whose body holds the given WordprocessingML fragments."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{_W_NS}"><w:body>{"".join(body_parts)}</w:body></w:document>'
    ).encode()


def docx_package(
    document: bytes, *, pages: int | None = 1, extra: dict[str, bytes] | None = None
) -> bytes:
    """Wrap a document.xml (and any ``extra`` members) into a DOCX zip package."""
    members: dict[str, bytes] = {
        "[Content_Types].xml": _CONTENT_TYPES_XML.encode(),
        "_rels/.rels": _PACKAGE_RELS_XML.encode(),
        "word/document.xml": document,
    }
    if pages is not None:
        members["docProps/app.xml"] = _APP_XML.format(pages=pages).encode()
    members.update(extra or {})
    return _zip(members)


@lru_cache(maxsize=2)
def make_zip_bomb_docx(uncompressed_mib: int = 200) -> bytes:
    """A DOCX whose document.xml inflates to ``uncompressed_mib`` MiB of spaces (~1000:1).

    The member is written in 1 MiB chunks, so building it never holds the inflated bytes.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_zip_info("[Content_Types].xml"), _CONTENT_TYPES_XML)
        archive.writestr(_zip_info("_rels/.rels"), _PACKAGE_RELS_XML)
        with archive.open(_zip_info("word/document.xml"), "w", force_zip64=True) as member:
            member.write(f'<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t>'.encode())
            chunk = b" " * (1024 * 1024)
            for _ in range(uncompressed_mib):
                member.write(chunk)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return buffer.getvalue()


def _docx_paragraph(paragraph: str, run_properties: str = "") -> str:
    properties = f"<w:rPr>{run_properties}</w:rPr>" if run_properties else ""
    return f"<w:p><w:r>{properties}{_docx_run_content(paragraph)}</w:r></w:p>"


def _docx_run_content(paragraph: str) -> str:
    lines = []
    for line in paragraph.split("\n"):
        pieces = [f'<w:t xml:space="preserve">{escape(piece)}</w:t>' for piece in line.split("\t")]
        lines.append("<w:tab/>".join(pieces))
    return "<w:br/>".join(lines)


# --------------------------------------------------------------------------------------------
# Refused formats


def make_zip() -> bytes:
    """An ordinary zip archive of two text files: not a DOCX."""
    return _zip({"notes.txt": b"Some notes.\n", "data/readme.md": b"# Readme\n\n- one\n- two\n"})


def make_elf() -> bytes:
    """The header of a 64-bit x86-64 Linux executable, followed by a few instruction bytes."""
    identity = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # ET_EXEC
        0x3E,  # x86-64
        1,
        0x401000,
        64,
        0,
        0,
        64,
        56,
        1,
        64,
        0,
        0,
    )
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x80, 0x80, 0x1000)
    code = b"\x48\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05"  # exit(0)
    return identity + header + program_header + code


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(_zip_info(name), data)
    return buffer.getvalue()


def _zip_info(name: str) -> zipfile.ZipInfo:
    # ZipInfo built by hand, because writestr(name, ...) stamps the current time into the file.
    info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


# --------------------------------------------------------------------------------------------
# Sample texts (ASCII only, so they also fit the core PDF fonts). Paragraphs are separated by
# blank lines: ``make_pdf(SAMPLE_CV_TEXT.split("\n\n"))`` gives a realistic document.

SAMPLE_CV_TEXT = """\
Maya Lindqvist
Senior Backend Engineer
Stockholm, Sweden | maya.lindqvist@example.com | +46 70 123 45 67 | github.com/mlindqvist

SUMMARY
Backend engineer with 7 years of experience designing and operating Python services at scale. \
Strong in FastAPI, PostgreSQL and event-driven systems with Kafka. For the last two years I have \
built LLM features in production: retrieval-augmented generation (RAG), prompt evaluation and \
guardrails. I care about clear APIs, boring reliable infrastructure and helping others grow.

SKILLS
- Languages: Python (expert), SQL, Go (working knowledge), TypeScript (basic)
- Frameworks and libraries: FastAPI, SQLAlchemy, Pydantic, Celery, pytest, asyncio
- Data and messaging: PostgreSQL, Redis, Kafka, pgvector, Elasticsearch
- Infrastructure: Docker, Kubernetes, Terraform, GitHub Actions, AWS (ECS, RDS, S3)
- AI: OpenAI and open-weight models, embeddings, RAG pipelines, prompt design, evaluation sets
- Practices: observability (Prometheus, OpenTelemetry), incident response, code review

EXPERIENCE
Senior Backend Engineer, Northwind Talent AB, Stockholm (03/2021 - present)
- Led the design of an asynchronous document-screening service in FastAPI and PostgreSQL that \
processes 40,000 CVs per month; p95 API latency went from 900 ms to 180 ms.
- Built a RAG pipeline (pgvector plus BM25 hybrid retrieval) that grounds LLM answers in job \
descriptions; answer accuracy on our evaluation set rose from 71% to 89%.
- Moved batch jobs to Kafka consumers with retries, idempotency keys and a dead-letter topic; \
lost or duplicated jobs dropped to zero over the following 12 months.
- Cut cloud costs by 32% by right-sizing containers and caching embeddings in Redis.
- Mentored four junior and mid-level engineers; two were promoted within 18 months.

Backend Engineer, Fjord Payments, Oslo (08/2018 - 02/2021)
- Developed payment reconciliation services in Python and PostgreSQL handling 2 million \
transactions per day with 99.95% availability.
- Introduced contract tests and a Docker-based local environment; onboarding time for new \
engineers fell from two weeks to three days.
- Owned on-call for the ledger service and wrote the runbooks still in use today.

Software Engineer (Intern to Junior), Lumen Analytics, Uppsala (06/2017 - 07/2018)
- Wrote ETL jobs and REST endpoints in Flask; automated reporting that saved analysts 10 hours \
per week.

EDUCATION
M.Sc. Computer Science, Uppsala University (2015 - 2017). Thesis: "Approximate nearest \
neighbour search for text retrieval".
B.Sc. Computer Science, Uppsala University (2012 - 2015).

OTHER
Speaker at PyCon Sweden 2023 ("Idempotent consumers in practice"). Maintainer of a small open \
source library for PostgreSQL advisory locks. Languages: Swedish (native), English (fluent), \
German (intermediate).
"""

SAMPLE_PROJECT_TEXT = """\
Project Report: AI CV Evaluator
Case study: build a service that evaluates CVs and project reports with LLM chaining, RAG and \
asynchronous jobs.

1. Overview
The service accepts a candidate's CV and project report, evaluates them against a job \
description, a case-study brief and a scoring rubric, and returns a structured result: a CV \
match rate between 0 and 1, a project score between 1 and 10, feedback for each, and an overall \
summary. Evaluation is slow and can fail, so it runs as a background job and the client polls \
for the result.

2. Architecture
The code is organised in layers. The domain layer holds entities, errors with stable codes and \
ports (small interfaces). The service layer contains the use cases: upload, evaluate and get \
result. Adapters implement the ports: a SQLAlchemy repository for PostgreSQL or SQLite, a job \
queue, a document reader for PDF and DOCX, and an LLM client. A single composition root wires \
the adapters from configuration, so the same code runs on a laptop with SQLite and an in-process \
worker, or on several machines with PostgreSQL and Kafka.

3. API endpoints
- POST /upload accepts multipart fields cv and project, checks the real file type by its \
content, extracts the text and returns cv_id and project_id.
- POST /evaluate takes cv_id and project_id plus optional job description, brief and rubric. It \
stores a job with status queued and returns the job id immediately. An Idempotency-Key header \
makes retries by the client safe: the same key returns the same job.
- GET /result/{id} returns queued, processing, completed with the scores and feedback, or \
failed with an error code. The response carries an ETag so pollers can use If-None-Match.

4. Asynchronous job queue
Jobs are rows in a jobs table, and the row is the source of truth for status. Workers claim a \
job with a lease (a worker id and an expiry time) using SELECT ... FOR UPDATE SKIP LOCKED on \
PostgreSQL. While working, a worker extends its lease; if it crashes, the lease expires and \
another worker picks the job up. In the scaled-out setup, the API publishes the job id to a \
Kafka topic after the transaction commits, and consumers claim the job by id. Because delivery \
is at least once, processing is idempotent: a message for a finished job is acknowledged and \
ignored.

5. Retries and error handling
Errors are split into transient and permanent. Timeouts, rate limits (HTTP 429) and 5xx \
responses from the model provider are transient: the job is retried with exponential backoff \
and jitter, up to five attempts, and then fails with RETRIES_EXHAUSTED. Invalid model output is \
repaired once by asking the model to return valid JSON against the schema; if it is still \
invalid the job fails with EVALUATION_FAILED instead of inventing a score. Messages that cannot \
be processed at all go to a dead-letter topic with the reason attached. Every attempt is \
recorded with its duration and error code, which made debugging much easier.

6. Retrieval-augmented generation
The job description, the case-study brief and the rubric are split into chunks of about 400 \
tokens with a small overlap. Each chunk is embedded and stored with its source and position. \
For every rubric parameter the service builds a query from the parameter description and the \
candidate text, and retrieves context with a hybrid of vector similarity and lexical BM25 \
scores, merged with reciprocal rank fusion. Lexical retrieval matters for exact terms such as \
"Kafka" or "PostgreSQL" that embeddings sometimes blur. The ids of the retrieved chunks are \
stored in the result receipt, so every score can be traced back to its evidence.

7. Prompt design and LLM chaining
The evaluation is a chain of small steps rather than one large prompt. Step one extracts \
structured facts from the CV (skills, years of experience, achievements with numbers). Step two \
scores each rubric parameter from 1 to 5 with a short rationale and quotes from the candidate \
text as evidence. Step three writes the feedback and the overall summary from the scores only. \
Each prompt has a version and a hash; the temperature is low (0.1) for scoring and slightly \
higher for the summary. The model must answer in JSON that is validated against a schema, and \
quotes are checked to really appear in the source text, which catches hallucinated evidence. \
Text that was hidden in the uploaded files (white or tiny fonts) is flagged and never counted.

8. Testing
Unit tests drive the use cases through in-memory fakes of every port, and the fakes pass the \
same contract tests as the real adapters. Integration tests run against real SQLite and \
PostgreSQL databases and a throwaway Kafka broker. An acceptance test starts the real API and \
worker processes, kills a worker in the middle of a job with SIGKILL, and checks that the job \
still completes exactly once. A fixed evaluation set of twelve CVs with hand-assigned scores \
guards the prompts: a prompt change that moves the mean absolute error above 0.5 fails the \
build.

9. Trade-offs
I chose PostgreSQL as the queue for the default setup because it removes a moving part and \
gives transactional enqueueing; Kafka is used when throughput or fan-out requires it. Scoring \
each parameter separately costs more tokens than a single prompt, but the scores became more \
stable (the standard deviation over five runs dropped from 0.8 to 0.3 points) and the evidence \
is easier to audit. A local rule-based evaluator is kept as an explicit, recorded fallback when \
the model provider is down, rather than a silent substitute.

10. What I would improve
With more time I would add a human review queue for borderline scores, calibrate scores across \
job families, cache embeddings of reference documents between deployments, support OCR for \
scanned PDFs, and run regular bias checks on the evaluation set. I would also stream partial \
progress to the client instead of relying only on polling.
"""
