"""`create_app(settings)`: the FastAPI service, with one Assistant built in its lifespan."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from api import errors
from api.conversations import Conversations
from api.deps import (
    RateLimiter,
    rate_limit,
    require_api_key,
    require_metrics_key,
    require_trainer_key,
)
from api.errors import NotFoundError
from api.metrics import Metrics
from api.middleware import RequestContext
from api.redact import redact
from api.routes import ask, chat, documents, feedback, health, search, trainers
from api.storage import Storage
from api.workspace import Workspace
from assistant import Assistant, Settings, get_settings

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
PURGE_EVERY_SECONDS = 24 * 60 * 60


async def _purge_daily(storage: Storage) -> None:
    while True:
        await asyncio.sleep(PURGE_EVERY_SECONDS)
        await asyncio.to_thread(storage.purge_expired)


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The app. Pass an already built `assistant` to share one model between apps (tests)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.metrics = metrics
        app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
        app.state.auth_failures = RateLimiter(settings.auth_failures_per_minute)
        app.state.storage = storage = Storage(
            settings.database_path,
            store_questions=settings.store_questions,
            retention_days=settings.retention_days,
        )
        # Load the redactor's word lists now rather than on the first question (about 0.5 s).
        await asyncio.to_thread(redact, "warm up")
        # Retention: at start-up, then daily.
        await asyncio.to_thread(storage.purge_expired)
        purging = asyncio.create_task(_purge_daily(storage))
        app.state.conversations = Conversations(app.state.storage, metrics, settings)
        app.state.assistant = assistant or Assistant.from_settings(settings)
        app.state.workspace = Workspace(storage, app.state.assistant, settings)
        try:
            app.state.assistant.retrieve("warm up")
        except Exception as error:  # noqa: BLE001 - /readyz reports it; triage still serves
            logger.warning("index not ready at start-up: %s", type(error).__name__)
        yield
        purging.cancel()
        storage.close()

    app = FastAPI(
        title="Nurture",
        summary="Cited guidance for foster carers of babies and young children.",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": errors.ErrorResponse, "description": "Invalid request"}},
    )
    errors.install(app)
    guards = [Depends(require_api_key), Depends(rate_limit)]
    for router in (ask.router, chat.router, search.router, documents.router, feedback.router):
        app.include_router(router, prefix="/v1", dependencies=guards)
    # The trainers' workspace: its own keys (a carer's API key never opens it).
    app.include_router(
        trainers.router,
        prefix="/v1",
        dependencies=[Depends(require_trainer_key), Depends(rate_limit)],
    )
    # The health router stays open for probes, except /metrics (see `require_metrics_key`).
    app.include_router(health.router, dependencies=[Depends(require_metrics_key)])

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        def page() -> FileResponse:
            return FileResponse(STATIC / "index.html")

        @app.get("/trainers", include_in_schema=False)
        def trainers_page() -> FileResponse:
            """The workspace's page holds no data (it asks for a trainer key, and every table
            comes from /v1/trainers/...); it is not served at all while the workspace is off."""
            if not settings.trainer_key_list:
                raise NotFoundError("the trainers' workspace is off")
            return FileResponse(STATIC / "trainers.html")

    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )
    templates: list[tuple[re.Pattern[str], str]] = []

    def route_of(scope: Scope) -> str:
        """The route template (not the raw path), so metric labels stay few."""
        if not templates:
            for path in app.openapi()["paths"]:
                pattern = re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(path))
                templates.append((re.compile(f"^{pattern}$"), path))
        for pattern, path in templates:
            if pattern.match(scope["path"]):
                return path
        if scope["path"].startswith("/static/"):
            return "/static"
        return "/" if scope["path"] == "/" else "unmatched"

    app.add_middleware(
        RequestContext,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        route_of=route_of,
    )
    return app
