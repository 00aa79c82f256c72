"""Deterministic documents for the latency and manipulation benchmarks (fictional people).

``two_page_cv`` is about 900 words (two printed pages), ``four_page_report`` about 2,000 (four
pages); both are built from varied sentences so that nothing is trivially repeated.
"""

from __future__ import annotations

__all__ = ["BASE_CASES", "four_page_report", "two_page_cv"]

_ROLES = (
    ("Senior Backend Engineer", "Brightpath Hiring", "Jan 2021 - Present"),
    ("Backend Engineer", "Northwind Logistics", "Mar 2017 - Dec 2020"),
    ("Software Developer", "Tallinn Data Works", "Jun 2014 - Feb 2017"),
    ("Junior Developer", "Fjord Analytics", "Sep 2012 - May 2014"),
)
_BULLETS = (
    "Designed and built REST APIs in Python with FastAPI and PostgreSQL serving {n} million "
    "requests per day.",
    "Built a retrieval-augmented generation pipeline with pgvector embeddings and OpenAI models, "
    "cutting manual screening time by {n}0%.",
    "Moved long-running jobs to Kafka workers with retries, exponential backoff and idempotency "
    "keys; no job was lost in {n} quarters.",
    "Deployed services on AWS with Docker, Kubernetes and GitHub Actions CI/CD, and added "
    "Prometheus metrics and OpenTelemetry tracing.",
    "Mentored {n} engineers, led code reviews and wrote design documents for the team.",
    "Wrote unit and integration tests with pytest, raising coverage from 4{n}% to 8{n}%.",
    "Collaborated with product managers and designers to ship features used by {n}0,000 people.",
    "Reduced query latency by {n}5% through indexing, caching in Redis and query rewrites.",
    "Introduced structured logging and on-call runbooks, halving incident resolution time.",
    "Migrated a Django monolith to {n} services behind an API gateway without downtime.",
    "Ran weekly architecture reviews with {n} teams and documented decisions as ADRs.",
    "Automated data retention jobs that deleted {n} terabytes of stale records on schedule.",
    "Partnered with the security team on OAuth2, secrets rotation and audit logging.",
    "Profiled hot paths with py-spy and cut CPU usage of the scoring service by {n}0%.",
)


def two_page_cv() -> str:
    lines = [
        "# Maya Lindqvist",
        "maya.lindqvist@example.com | Gothenburg, Sweden",
        "",
        "## Summary",
        "Backend engineer with 12 years of experience building Python services and, since 2023,",
        "LLM features in production. I care about reliable systems, clear APIs and teams that",
        "learn together.",
        "",
        "## Experience",
    ]
    for index, (title, company, dates) in enumerate(_ROLES):
        lines += ["", f"### {title}, {company} ({dates})"]
        for offset in range(11):
            bullet = _BULLETS[(index * 3 + offset) % len(_BULLETS)]
            lines.append("- " + bullet.format(n=(index + offset) % 9 + 1))
    lines += [
        "",
        "## Projects",
        "- Open-source contributor to a Python task-queue library: retries and dead-letter queues.",
        "- Built a small evaluation harness for prompt templates with golden tests and "
        "calibration reports.",
        "",
        "## Skills",
        "Python, FastAPI, Django, PostgreSQL, MySQL, Redis, Kafka, Celery, Docker, Kubernetes,",
        "AWS, Terraform, OpenAI API, RAG, pgvector, pytest, Prometheus, OpenTelemetry",
        "",
        "## Education",
        "MSc Computer Science, University of Gothenburg (2012)",
        "",
        "## Languages",
        "English (fluent), Swedish (native), German (conversational)",
    ]
    return "\n".join(lines) + "\n"


_REPORT_SECTIONS = (
    (
        "Implementation",
        (
            "`POST /upload` accepts PDF, DOCX and text files, validates type and size, and "
            "returns ids.",
            "`POST /evaluate` stores a job and returns its id immediately with status queued.",
            "`GET /result/{id}` reports queued, processing, completed or failed, with the result.",
            "The evaluation chains three LLM calls: CV extraction, CV scoring and project scoring.",
            "Retrieval-augmented generation retrieves the relevant chunks of the job description, "
            "brief and rubric from a vector database.",
            "Prompts request structured JSON output validated with Pydantic; temperature is 0.1.",
        ),
    ),
    (
        "Resilience and error handling",
        (
            "Evaluations run as background jobs in a queue with workers.",
            "LLM failures, timeouts and rate limits are retried with exponential backoff and "
            "jitter.",
            "After three attempts the job is marked failed with a clear error code.",
            "Uploads and payloads are validated and return meaningful error messages.",
            "Jobs and results are persisted in PostgreSQL so that no job is lost on restart.",
        ),
    ),
    (
        "Code quality",
        (
            "The code is organised in modules: api, services, evaluation and storage.",
            "Type hints everywhere, configuration through environment variables.",
            "120 automated tests, unit and integration, run in CI with linting.",
        ),
    ),
    (
        "Documentation",
        (
            "The README explains setup, configuration and how to run the service.",
            "Example requests and responses are given for every endpoint.",
            "A design document explains trade-offs and limitations.",
        ),
    ),
    (
        "Extras",
        (
            "Docker and docker-compose setup, Prometheus metrics and structured logs.",
            "A prompt-injection detector and an evaluation quality benchmark.",
        ),
    ),
)


def four_page_report() -> str:
    lines = ["# AI CV Evaluator — Project Report", ""]
    paragraph = (
        "This section describes decisions made while building the service, why they were made "
        "and what we would change with more time. The discussion covers data flow, failure "
        "modes and the measurements we used to judge the result."
    )
    for round_ in range(4):
        for title, bullets in _REPORT_SECTIONS:
            lines += [f"## {title} ({round_ + 1})", "", paragraph, ""]
            lines += [f"- {bullet}" for bullet in bullets]
            lines.append("")
    return "\n".join(lines)


BASE_CASES: tuple[tuple[str, str], ...] = (
    ("strong", two_page_cv()),
    (
        "junior",
        "# Leo Tran\n\n## Profile\nJunior developer who enjoys learning new tools.\n\n"
        "## Experience\nWeb Developer Intern, Sunrise Studio (Jun 2023 - Dec 2023)\n"
        "- Helped update a WordPress site and fixed CSS bugs.\n"
        "- Wrote small Python scripts to rename image files.\n\n"
        "## Skills\nHTML, CSS, Python, Git\n",
    ),
    (
        "unrelated",
        "# Rosa Martins\n\n## Profile\nPastry chef with a passion for seasonal desserts.\n\n"
        "## Experience\nHead Pastry Chef, Le Jardin (2015 - 2024)\n"
        "- Created a seasonal dessert menu and managed a team of 5 cooks.\n"
        "- Reduced food waste by 20% by reorganising the cold storage.\n\n"
        "## Skills\nBaking, chocolate tempering, menu planning, food safety\n",
    ),
)
