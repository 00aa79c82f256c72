"""Named kinds of evidence ("mentoring", "retries", "README") and where a document shows them.

A signal is a set of alternative phrases; a phrase is found in a passage when all its word stems
(or the lexicon skill it names) occur there. Kept as data so a reader can see exactly what counts
as, say, collaboration, and so the tables can be extended without touching the scorers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cv_evaluator.evaluation.analysis import profile
from cv_evaluator.evaluation.documents import PreparedDocument, Segment
from cv_evaluator.evaluation.negation import is_negated

__all__ = [
    "ACHIEVEMENT_VERBS",
    "CODE_QUALITY",
    "COLLABORATION",
    "CREATIVITY",
    "DOCUMENTATION",
    "RESILIENCE",
    "SENIORITY",
    "Signal",
    "SignalHit",
    "find_signals",
    "is_negated",
    "phrase_keys",
    "quantities",
]


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SignalHit:
    signal: Signal
    segment: Segment
    phrase: str


def _signals(table: Mapping[str, str]) -> tuple[Signal, ...]:
    return tuple(
        Signal(name, tuple(p.strip() for p in phrases.split(";") if p.strip()))
        for name, phrases in table.items()
    )


# Phrases are specific on purpose: "trained" alone would match "train station", "course" would
# match "of course"; verbs that double as nouns are only counted with the words they go with.
COLLABORATION = _signals(
    {
        "communication": "communication; communicate; communicated; presented to; presentation; "
        "explained; wrote documentation; technical writing; public speaking; blog posts",
        "teamwork": "teamwork; collaborated; collaboration; cross-functional; worked closely; "
        "partnered with; pair programming; team player; work in teams",
        "mentoring": "mentored; mentoring; mentor; coached; coaching; onboarded; trained new; "
        "trained junior; trained staff; trained team; taught; tutored",
        "leadership": "led; leadership; managed a team; team lead; tech lead; headed the; "
        "supervised; oversaw",
        "learning": "self-taught; certification; certified; workshops; conference talk; "
        "continuous learning; keen to learn; eager to learn; learned",
        "feedback": "code review; code reviews; feedback; peer review; retrospective",
        "stakeholders": "stakeholder; stakeholders; customer; customers; client; clients; "
        "product manager; product managers; designers",
        "ownership": "owned the; ownership; end to end; end-to-end; took initiative; "
        "took responsibility",
        "community": "volunteer; volunteered; open source; open-source; contributor; meetup",
    }
)

SENIORITY = _signals(
    {
        "senior_title": "senior; principal; staff engineer; lead; head of; architect; manager; "
        "director",
        "scope": "architected; designed the; owned; led the; company-wide; organisation-wide; "
        "platform; migration; from scratch; end to end",
        "scale": "million; millions; thousands; at scale; high traffic; large-scale",
    }
)

RESILIENCE = _signals(
    {
        "retries": "retry; retries; retried; backoff; exponential backoff; jitter",
        "timeouts": "timeout; timeouts; deadline",
        "rate_limits": "rate limit; rate limits; rate limiting; throttling; quota",
        "failures": "failure; failures; error handling; errors; exception; fallback; "
        "circuit breaker; degraded",
        "async_jobs": "background job; queue; worker; workers; asynchronous; async; job status",
        "persistence": "persisted; persist; database; transaction; durable; no job is lost; "
        "restart; recovery",
        "validation": "validation; validated; validate; sanitize; schema",
        "idempotency": "idempotent; idempotency; dead letter; dlq; at-least-once; exactly-once",
    }
)

CODE_QUALITY = _signals(
    {
        "structure": "modules; modular; separation of concerns; layers; layered; architecture; "
        "clean architecture; package; services; repository pattern",
        "tests": "tests; unit tests; integration tests; test suite; pytest; coverage; "
        "end-to-end tests; automated tests",
        "typing": "type hints; typed; typing; mypy; pydantic; dataclasses",
        "configuration": "configuration; environment variables; settings; config; .env",
        "tooling": "ci; continuous integration; linting; linter; ruff; flake8; black; "
        "pre-commit; github actions",
        "reuse": "reusable; dependency injection; interfaces; abstraction; protocol",
    }
)

DOCUMENTATION = _signals(
    {
        "readme": "readme; documentation; docs",
        "setup": "setup; set up; install; installation; getting started; how to run; "
        "docker compose up; requirements",
        "api_examples": "example request; example response; curl; endpoint; openapi; swagger; "
        "api documentation",
        "design": "design; architecture; diagram; design choices; design decisions; approach",
        "tradeoffs": "trade-off; tradeoff; trade-offs; tradeoffs; alternatives; why",
        "limitations": "limitation; limitations; future work; known issues; improvements; "
        "next steps",
    }
)

CREATIVITY = _signals(
    {
        "containers": "docker; docker-compose; container; kubernetes; helm",
        "observability": "metrics; prometheus; grafana; tracing; opentelemetry; logging; "
        "dashboards; structured logs",
        "security": "authentication; authorization; api key; oauth; jwt; rate limiting",
        "performance": "caching; cache; redis; streaming; batching; parallel",
        "quality_measurement": "benchmark; evaluation quality; calibration; golden tests; "
        "a/b; accuracy; ground truth",
        "safety": "prompt injection; manipulation; guardrails; moderation; pii",
        "interfaces": "admin; dashboard; web ui; frontend; cli; command line",
        "deployment": "deployed; deployment; ci/cd; cloud; terraform; live demo",
    }
)

ACHIEVEMENT_VERBS = frozenset(
    """
    increased reduced improved grew cut saved launched shipped delivered built led won
    awarded raised boosted accelerated decreased lowered scaled doubled tripled achieved
    generated drove exceeded eliminated automated optimized optimised streamlined migrated
    introduced created designed established expanded halved
    """.split()  # noqa: SIM905
)


@lru_cache(maxsize=2048)
def phrase_keys(phrase: str) -> tuple[frozenset[str], frozenset[str]]:
    keys = profile(phrase).terms
    return (
        frozenset(k for k in keys if k.startswith("@")),
        frozenset(k for k in keys if not k.startswith("@")),
    )


def _phrase_in(phrase: str, segment: Segment) -> bool:
    skills, words = phrase_keys(phrase)
    # a phrase that is a lexicon skill matches through the skill, whatever words were used
    if skills and skills <= segment.terms:
        return True
    return bool(words) and words <= segment.terms


def find_signals(
    document: PreparedDocument,
    signals: Sequence[Signal],
    *,
    segments: Iterable[Segment] | None = None,
    include_listed: bool = True,
) -> dict[str, list[SignalHit]]:
    """Every signal with the passages that show it (negated passages never count)."""
    pool = [
        s
        for s in (document.segments if segments is None else segments)
        if (include_listed or not s.listed) and not s.negated
    ]
    out: dict[str, list[SignalHit]] = {}
    for signal in signals:
        hits: list[SignalHit] = []
        for segment in pool:
            for phrase in signal.phrases:
                if _phrase_in(phrase, segment):
                    hits.append(SignalHit(signal, segment, phrase))
                    break
        if hits:
            out[signal.name] = hits
    return out


_QUANTITY = re.compile(
    r"(?:[$€£]\s?\d[\d,.]*\s?(?:[kmb]|million|billion)?)"
    r"|(?:\b\d[\d,.]*\s?(?:%|percent|x\b|×|times\b))"
    r"|(?:\b\d[\d,.]*\s?(?:k|m|million|billion|thousand|hundred)\b)"
    r"|(?:\b\d{2,}[\d,.]*\+?\s+(?:[a-z]+\s+){0,2}(?:users|customers|clients|requests|"
    r"transactions|engineers|people|developers|students|patients|members|projects|services|"
    r"teams|stores|sites|countries|markets|warehouses|drivers|orders|records|accounts|"
    r"employees|reports|deployments|servers|nodes|models|downloads|stars|events|messages)\b)"
    r"|(?:\bfrom\s+\d[\d,.]*\s*%?\s+to\s+\d[\d,.]*)",
    re.IGNORECASE,
)


def quantities(text: str) -> list[str]:
    """Numbers that measure an outcome: percentages, money, multiples, counts of things."""
    return [m.group(0).strip() for m in _QUANTITY.finditer(text)]
