"""The FastAPI application factory. Building the app opens nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import yaml
from fastapi import FastAPI, Request, Response

from cv_evaluator import __version__
from cv_evaluator.api import routes_admin, routes_ops, routes_v1
from cv_evaluator.api.context import ApiContext
from cv_evaluator.api.errors import install_error_handlers
from cv_evaluator.api.middleware import RequestMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_MULTIPART_OVERHEAD = 64 * 1024


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def create_app(context: ApiContext, lifespan: Lifespan | None = None) -> FastAPI:
    app = FastAPI(
        title="AI CV Evaluator",
        version=__version__,
        description=(
            "Evaluates a candidate's CV and project report against a job description, a "
            "case-study brief and a scoring rubric; asynchronous, with evidence and receipts."
        ),
        lifespan=lifespan or _no_lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(routes_v1.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_admin.router)

    upload_limit = 2 * context.max_file_bytes + _MULTIPART_OVERHEAD

    def body_limit(path: str) -> int | None:
        if path == "/v1/upload":
            return upload_limit
        return context.max_json_bytes

    app.add_middleware(RequestMiddleware, metrics=context.metrics, body_limit=body_limit)

    @app.get("/openapi.yaml", include_in_schema=False)
    async def openapi_yaml(_request: Request) -> Response:
        return Response(
            yaml.safe_dump(app.openapi(), sort_keys=False), media_type="application/yaml"
        )

    return app
