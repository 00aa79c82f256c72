# ruff: noqa: E501
"""Hand-written CVs and project reports for golden and property tests (fictional people)."""

from __future__ import annotations

STRONG_CV = """# Maya Lindqvist
maya.lindqvist@example.com

## Summary
Backend engineer with 7 years of experience building Python services and, since 2023, LLM
features in production.

## Experience

### Senior Backend Engineer, Brightpath Hiring (Jan 2021 - Present)
- Designed and built REST APIs in Python with FastAPI and PostgreSQL serving 3 million requests per day.
- Built a retrieval-augmented generation (RAG) pipeline with pgvector embeddings and OpenAI models; prompt design and LLM chaining with structured JSON outputs cut manual screening time by 45%.
- Moved long-running evaluations to Kafka workers with retries, exponential backoff and idempotency keys; zero lost jobs over 18 months.
- Deployed on AWS with Docker, Kubernetes and GitHub Actions CI/CD; added Prometheus metrics and OpenTelemetry tracing.
- Mentored 4 engineers, led code reviews and wrote the team's design documentation.

### Backend Engineer, Northwind Logistics (Mar 2017 - Dec 2020)
- Developed Django services and SQL reporting on MySQL for 200 warehouses.
- Wrote unit and integration tests with pytest, raising coverage from 40% to 85%.
- Collaborated with product managers and designers to ship a routing feature used by 10,000 drivers.

## Skills
Python, FastAPI, Django, PostgreSQL, MySQL, Redis, Kafka, Celery, Docker, Kubernetes, AWS,
Terraform, OpenAI API, RAG, pgvector, pytest

## Education
BSc Computer Science, University of Gothenburg (2016)

## Languages
English (fluent), Swedish (native)
"""

JUNIOR_CV = """# Leo Tran

## Profile
Junior developer who enjoys learning new tools.

## Experience
Web Developer Intern, Sunrise Studio (Jun 2023 - Dec 2023)
- Helped update a WordPress site and fixed CSS bugs.
- Wrote small Python scripts to rename image files.

## Skills
HTML, CSS, Python, Git

## Education
Diploma in Web Design (2023)
"""

UNRELATED_CV = """# Rosa Martins

## Profile
Pastry chef with a passion for seasonal desserts.

## Experience
Head Pastry Chef, Le Jardin (2015 - 2024)
- Created a seasonal dessert menu and managed a team of 5 cooks.
- Reduced food waste by 20% by reorganising the cold storage.

## Skills
Baking, chocolate tempering, menu planning, food safety
"""

STRONG_REPORT = """# AI CV Evaluator — Project Report

## Overview
The service accepts a CV and a project report, evaluates them against a job description, a
case-study brief and a scoring rubric, and returns a structured result.

## Implementation
- `POST /upload` accepts PDF, DOCX and text files, validates type and size, and returns ids.
- `POST /evaluate` stores a job and returns its id immediately with status "queued".
- `GET /result/{id}` reports queued, processing, completed or failed, and returns the result with the CV match rate, feedback, project score and overall summary.
- The evaluation chains three LLM calls: CV extraction, scoring against the job description, and project scoring with a final summary.
- Retrieval-augmented generation: the job description, brief and rubric are chunked, embedded and stored in a vector database (pgvector); each step retrieves the relevant chunks.
- Prompts request structured JSON output, which is validated with Pydantic before use; temperature is set to 0.1 for stable results.

## Resilience and error handling
- Evaluations run as background jobs in a queue with workers, so the API stays responsive.
- LLM failures, timeouts and rate limits are retried with exponential backoff and jitter; after 3 attempts the job is marked failed with a clear error code.
- Uploads and request payloads are validated and return meaningful error messages.
- Jobs and results are persisted in PostgreSQL, so no job is lost when the service restarts.

## Code quality
- The code is organised in modules with separation of concerns: api, services, evaluation and storage.
- Type hints everywhere, configuration through environment variables, and 120 automated tests (unit and integration) run in CI.

## Documentation
- The README explains how to set up, configure and run the service, with example requests and responses for every endpoint.
- A design document explains the trade-offs and the limitations of the solution.

## Extras
- Docker and docker-compose setup, Prometheus metrics and structured logs.
- A prompt-injection detector and an evaluation quality benchmark.
"""

WEAK_REPORT = """# Report

I made a small script that reads a CV and prints a score. It uses Python.
"""

HONEST_PARTIAL_REPORT = """# Project report

## What works
- `POST /upload` stores the CV and report and returns their ids.
- `POST /evaluate` queues a job and returns its id; `GET /result/{id}` returns the status and result.
- The CV and report are scored by two chained LLM calls with a JSON output format.

## What is missing
- Retries are not implemented yet; a failed LLM call fails the job.
- We did not add rate limiting or timeouts.
- There are no automated tests yet (TODO).

## How to run
The README explains how to install the dependencies and run the service with uvicorn.
"""
