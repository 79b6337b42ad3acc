"""The FastAPI application: routers, error handlers, health checks, start-up checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from app import __version__
from app.advisory.routes import router as advisory_router
from app.artifacts.routes import router as artifacts_router
from app.cases.routes import router as cases_router
from app.config import Settings, get_settings
from app.core import utc_times
from app.core.body_limit import BodyIntakeMiddleware
from app.core.errors import RungError
from app.core.migrations import schema_status
from app.core.openapi_errors import truthful_openapi
from app.datasets.routes import router as datasets_router
from app.db import engine_for
from app.evaluation.routes import router as evals_router
from app.fixes.routes import router as fixes_router
from app.jobs.routes import router as jobs_router
from app.projects.routes import router as projects_router
from app.registry.routes import router as registry_router
from app.triage.routes import router as triage_router
from app.workers.dispatch import dispatcher_for
from app.workers.polling import start_embedded_worker
from app.workers.triage_worker import start_triage_process


class SchemaBehindError(RuntimeError):
    """The database is older than the code; `rung db upgrade` fixes it."""


def _check_schema(settings: Settings) -> None:
    status = schema_status(settings.resolved_database_url)
    if not status.up_to_date:
        raise SchemaBehindError(status.message())


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "(body)"


def create_app(
    settings: Settings | None = None, *, check_schema: bool = True, background: bool = True
) -> FastAPI:
    """The API. `background`: this process also runs the in-process job worker and the triage
    worker (as settings say); `rung serve --workers N` runs them once, in its supervisor, and
    its N API processes without them (`create_api_app`)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if check_schema:
            _check_schema(settings)
        # Blocking routes and DB work run in the threadpool; writes waiting for SQLite's writer
        # must not take every thread from the reads.
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(
            80, settings.sqlite_max_queued_writes + 40
        )
        worker = start_embedded_worker(settings) if background else None  # None with a broker
        triager = None
        if background and not settings.broker_url:
            triager = start_triage_process(settings)
        try:
            yield
        finally:
            if triager is not None:
                triager.stop()
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="Rung",
        version=__version__,
        summary="Triage LLM failures, run the cheapest fix on the ladder, gate promotion.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.dispatcher = dispatcher_for(settings)  # how job services hand jobs to workers
    utc_times.install()
    app.add_middleware(
        BodyIntakeMiddleware,
        max_bytes=settings.max_body_bytes,
        streaming=[r"^/v1/projects/[^/]+/datasets/?$"],  # capped by RUNG_MAX_UPLOAD_BYTES
    )
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]

    @app.exception_handler(RungError)
    async def _rung_error(_: Request, exc: RungError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 503:
            headers = {"Retry-After": str(getattr(exc, "retry_after", 5))}
        return JSONResponse(
            {"detail": exc.message, "errors": exc.errors}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(IntegrityError)
    async def _conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        # A unique name or version taken by a concurrent request (check-then-insert races end
        # here), or a row that another write removed meanwhile. Nothing was stored.
        return JSONResponse(
            {"detail": "conflicts with an existing record (a name or version already taken, "
             "or changed meanwhile); nothing was stored: read the current state and retry",
             "errors": []},
            status_code=409,
        )

    @app.exception_handler(DataError)
    async def _bad_value(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(
            {"detail": "a value does not fit its field (too large, or not storable text)",
             "errors": []},
            status_code=422,
        )

    @app.exception_handler(StatementError)
    async def _statement_error(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, OverflowError):  # SQLite: an integer beyond 64 bits
            return await _bad_value(request, DataError(exc.statement, exc.params, exc.orig))
        raise exc

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse({"detail": f"invalid request: {summary}", "errors": errors}, 422)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up (answered on the event loop: never waits for a thread)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """The database answers and its schema is current."""
        url = settings.resolved_database_url
        try:
            with engine_for(url).connect() as connection:
                connection.execute(text("SELECT 1"))
            status = schema_status(url)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, 503)
        if not status.up_to_date:
            return JSONResponse({"status": "unavailable", "detail": status.message()}, 503)
        return JSONResponse({"status": "ready", "schema": status.current})

    routers = (
        projects_router,
        cases_router,
        triage_router,
        advisory_router,
        datasets_router,
        jobs_router,
        artifacts_router,
        evals_router,
        registry_router,
        fixes_router,
    )
    for router in routers:
        app.include_router(router)
    return app


def create_api_app() -> FastAPI:
    """One of `rung serve --workers N`'s API processes: the workers run in the supervisor."""
    return create_app(background=False)
