"""Submit an evaluation: validate, deduplicate by idempotency key, store the job, announce it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cv_evaluator.domain.clock import Clock
from cv_evaluator.domain.documents import DocumentKind
from cv_evaluator.domain.errors import Conflict, InvalidArgument, NotFound
from cv_evaluator.domain.evaluation import Rubric
from cv_evaluator.domain.ids import IdKind, kind_of, new_id
from cv_evaluator.domain.jobs import EvaluationInputs, Job, JobStatus
from cv_evaluator.domain.ports import JobPublisher, UnitOfWorkFactory
from cv_evaluator.service.callback_urls import check_callback_url

_MAX_IDEMPOTENCY_KEY = 255
_EXPECTED_KIND = {
    "cv_id": (IdKind.CV, DocumentKind.CV),
    "project_id": (IdKind.PROJECT, DocumentKind.PROJECT),
}


@dataclass(frozen=True, slots=True)
class Submission:
    job: Job
    created: bool


def request_fingerprint(inputs: EvaluationInputs) -> str:
    canonical = json.dumps(asdict(inputs), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class EvaluationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        publisher: JobPublisher,
        clock: Clock,
        *,
        rubric_loader: Callable[[str], Rubric],
        max_reference_chars: int,
        max_attempts: int,
        callbacks_enabled: bool = False,
        callback_allowed_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self._callbacks_enabled = callbacks_enabled
        self._callback_allowed_hosts = callback_allowed_hosts
        self._uow = uow
        self._publisher = publisher
        self._clock = clock
        self._load_rubric = rubric_loader
        self._max_chars = max_reference_chars
        self._max_attempts = max_attempts

    def _validate_texts(self, inputs: EvaluationInputs) -> None:
        for name in ("job_description", "study_case_brief", "scoring_rubric"):
            value: str | None = getattr(inputs, name)
            if value is None:
                continue
            if not value.strip():
                raise InvalidArgument(
                    f"{name} is empty; omit it to use the default", details={"field": name}
                )
            if len(value) > self._max_chars:
                raise InvalidArgument(
                    f"{name} is longer than {self._max_chars} characters",
                    details={"field": name, "length": len(value), "limit": self._max_chars},
                )
        if inputs.callback_url is not None:
            if not self._callbacks_enabled:
                raise InvalidArgument(
                    "completion callbacks are off: the operator must set APP_WEBHOOK_SECRET",
                    details={"field": "callback_url"},
                )
            check_callback_url(inputs.callback_url, self._callback_allowed_hosts)
        if inputs.scoring_rubric is not None:
            # Fail now with a precise message rather than later inside the job.
            self._load_rubric(inputs.scoring_rubric)

    async def _validate_uploads(self, inputs: EvaluationInputs) -> None:
        async with self._uow() as uow:
            for field, (id_kind, doc_kind) in _EXPECTED_KIND.items():
                value: str = getattr(inputs, field)
                found_kind = kind_of(value)
                if found_kind is not None and found_kind is not id_kind:
                    raise InvalidArgument(
                        f"{field} is the id of a {found_kind.name.lower()}, "
                        f"not of a {doc_kind.value}",
                        details={"field": field, "id": value},
                    )
                upload = await uow.uploads.get(value) if found_kind is id_kind else None
                if upload is None or upload.kind is not doc_kind:
                    raise NotFound(
                        f"no {doc_kind.value} upload with id {value!r}", details={"field": field}
                    )

    async def submit(
        self,
        inputs: EvaluationInputs,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Submission:
        if idempotency_key is not None and not 0 < len(idempotency_key) <= _MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument(
                f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters",
                details={"field": "Idempotency-Key"},
            )
        self._validate_texts(inputs)
        fingerprint = request_fingerprint(inputs)
        if idempotency_key is not None:
            replay = await self._replay(idempotency_key, fingerprint)
            if replay is not None:
                return Submission(replay, created=False)
        await self._validate_uploads(inputs)
        now = self._clock.now()
        job = Job(
            id=new_id(IdKind.JOB),
            status=JobStatus.QUEUED,
            inputs=inputs,
            created_at=now,
            updated_at=now,
            available_at=now,
            max_attempts=self._max_attempts,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            request_id=request_id,
            trace_context=trace_context or None,
        )
        try:
            async with self._uow() as uow:
                await uow.jobs.add(job)
                await uow.commit()
        except Conflict:
            # Another request with the same key won the race; the unique index decided.
            if idempotency_key is None:
                raise
            replay = await self._replay(idempotency_key, fingerprint)
            if replay is None:
                raise
            return Submission(replay, created=False)
        await self._publisher.publish(job.id)
        return Submission(job, created=True)

    async def _replay(self, key: str, fingerprint: str) -> Job | None:
        async with self._uow() as uow:
            existing = await uow.jobs.get_by_idempotency_key(key)
        if existing is None:
            return None
        if existing.request_hash != fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used with a different request body",
                details={"idempotency_key": key, "job_id": existing.id},
            )
        return existing
