"""On PostgreSQL, a job published by one process wakes idle workers of another at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cv_evaluator.bootstrap import Runtime, build_runtime
from cv_evaluator.config import Settings
from cv_evaluator.domain.jobs import EvaluationInputs
from cv_evaluator.service.uploads import IncomingFile
from tests.support.backends import Databases
from tests.support.documents import SAMPLE_CV_TEXT, SAMPLE_PROJECT_TEXT

POLL_SECONDS = 30.0  # far longer than the test's deadline: only a notification can wake it


async def test_a_publish_in_one_process_wakes_a_worker_in_another(
    databases: Databases, tmp_path: Path
) -> None:
    url = databases.migrated_url("postgresql", tmp_path)
    settings = Settings(data_dir=tmp_path / "data", db_url=url, ai_local_processes=0)
    api: Runtime = build_runtime(settings)
    worker_side: Runtime = build_runtime(settings)
    try:
        assert worker_side.notifications is not None
        worker_side.notifications.start()
        async with asyncio.timeout(10):
            await worker_side.notifications.listening.wait()
        waiting = asyncio.create_task(worker_side.queue.next_job("w-1", timeout=POLL_SECONDS))
        await asyncio.sleep(0.1)
        cv, project = await api.uploads.upload(
            IncomingFile("cv", "cv.txt", SAMPLE_CV_TEXT.encode()),
            IncomingFile("project", "p.txt", SAMPLE_PROJECT_TEXT.encode()),
        )
        submitted = await api.evaluations.submit(EvaluationInputs(cv.id, project.id))
        async with asyncio.timeout(5):
            claimed = await waiting
        assert claimed is not None and claimed.id == submitted.job.id
    finally:
        await api.close()
        await worker_side.close()
