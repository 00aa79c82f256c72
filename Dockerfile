# syntax=docker/dockerfile:1
#
# One image for every role: `serve` (the default), `worker`, `migrate` and `maint …`.
#
#   docker build --build-arg APP_GIT_REVISION=$(git rev-parse HEAD) -t ai-cv-evaluator .
#   docker run --rm ai-cv-evaluator --help
#
# The base image is pinned to a Debian release, not just a Python version: PG_MAJOR below must be
# a PostgreSQL client that this release ships, and it must match the server's major version
# (pg_dump refuses to dump a newer server; a newer pg_dump writes dumps an older server may
# reject). docker-compose.yml runs postgres:17 for the same reason.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

# --- builder: every locked distribution, verified against requirements/lock.txt ---------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /build

# Hash-checked: a download that differs from the lock fails the build. The lock also pins the
# development tools; they end up in the wheelhouse only, never in the runtime environment.
COPY requirements/lock.txt requirements/lock.txt
RUN python -m pip wheel --require-hashes --wheel-dir /wheels -r requirements/lock.txt

# The project itself, built with the locked setuptools rather than whatever an index serves.
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python -m venv --without-pip /opt/build-tools \
    && python -m pip --python /opt/build-tools/bin/python install --no-index \
        --find-links /wheels setuptools wheel \
    && python -m pip --python /opt/build-tools/bin/python wheel --no-index --no-deps \
        --no-build-isolation --wheel-dir /wheels .

# The runtime environment: the project and what it depends on, resolved only from the verified
# wheelhouse (one version of each, the locked one), so the development tools stay out. The
# venv gets no pip of its own from ensurepip: the locked pip comes in as a dependency (pip-audit
# needs one for `maint check`'s dependency audit), and no unlocked setuptools is left behind.
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-index --find-links /wheels \
        ai-cv-evaluator \
    && /opt/venv/bin/python -m pip check

# --- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG PG_MAJOR=17

# pg_dump, pg_restore and pg_amcheck for `maint backup` against PostgreSQL. Debian puts
# pg_amcheck only under /usr/lib/postgresql/<major>/bin, hence MAINT_PG_BIN_DIR below.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric id, so volume ownership and `runAsNonRoot`-style checks do not depend on
# the order in which accounts happen to be created. DATA_DIR and the backup directory exist
# (owned by that user) before any volume is mounted on them: Docker copies them into a new
# named volume, ownership included.
RUN groupadd --system --gid 10001 cv-evaluator \
    && useradd --system --uid 10001 --gid cv-evaluator --create-home \
        --home-dir /home/cv-evaluator --shell /usr/sbin/nologin cv-evaluator \
    && install -d -o cv-evaluator -g cv-evaluator -m 0750 \
        /var/lib/ai-cv-evaluator /var/backups/ai-cv-evaluator

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/var/lib/ai-cv-evaluator \
    MAINT_BACKUP_DIR=/var/backups/ai-cv-evaluator \
    MAINT_PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin

# Last, because it changes with every commit: everything above stays cached.
ARG APP_GIT_REVISION=unknown
ENV APP_GIT_REVISION=${APP_GIT_REVISION}
LABEL org.opencontainers.image.title="ai-cv-evaluator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${APP_GIT_REVISION}"

WORKDIR /var/lib/ai-cv-evaluator
USER 10001:10001
EXPOSE 8080

# Liveness of `serve` on APP_PORT (slim images have no curl). Workers answer /healthz on
# APP_METRICS_PORT instead; docker-compose.yml gives them their own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('APP_PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["cv-evaluator"]
CMD ["serve"]
