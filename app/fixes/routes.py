from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from sse_starlette.sse import EventSourceResponse

from app.core.idempotency import idempotent
from app.deps import EventStreamDep, ProjectDep, SessionDep, SettingsDep
from app.fixes import service
from app.fixes.driver import start_fix_driver
from app.fixes.events import events_after
from app.fixes.schemas import FixCreate, FixEventRead, FixRead
from app.jobs.dispatch import DispatcherDep


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The fix driver runs beside the in-process job worker of `rung serve`."""
    driver = start_fix_driver(app.state.settings)
    try:
        yield
    finally:
        if driver is not None:
            driver.stop()


router = APIRouter(prefix="/v1/projects/{project}/fixes", tags=["fixes"], lifespan=lifespan)


@router.post(
    "",
    status_code=201,
    responses={
        404: {"description": "the project is not the team's"},
        422: {
            "description": "no such plan step or rung; too few usable cases (the counts and "
            "where more could come from); no documents for a RAG step; a bad config key"
        },
        503: {"description": "the broker is down; nothing was queued"},
    },
)
@idempotent
def create_fix(
    body: FixCreate,
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> FixRead:
    """Run a plan step as a measured fix: build its data from the project's triaged cases
    (new dataset versions, a held-out share of cases never trained on), queue its recipe job,
    then on the worker answer the held-out cases with the champion and the candidate, count
    fixed / still failing / broken, and gate the candidate under the project's policy."""
    fix = service.create_fix(
        session,
        project=project,
        settings=settings,
        data=body,
        dispatcher=dispatcher,
        policy=settings.job,
        models_allow=settings.models_allow_dirs,
    )
    return FixRead.model_validate(fix)


@router.get("")
def list_fixes(
    project: ProjectDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[FixRead]:
    """The project's fixes, newest first."""
    return [
        FixRead.model_validate(f) for f in service.list_fixes(session, project=project, limit=limit)
    ]


@router.get("/{fix_id}")
def get_fix(fix_id: str, project: ProjectDep, session: SessionDep) -> FixRead:
    return FixRead.model_validate(service.get_fix(session, project=project, fix_id=fix_id))


@router.post("/{fix_id}/cancel", responses={409: {"description": "the fix has already ended"}})
def cancel_fix(fix_id: str, project: ProjectDep, session: SessionDep) -> FixRead:
    """Cancel a fix (and its job) that has not ended."""
    return FixRead.model_validate(service.cancel_fix(session, project=project, fix_id=fix_id))


@router.get(
    "/{fix_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def fix_events(
    fix_id: str, project: ProjectDep, session: SessionDep, stream: EventStreamDep
) -> EventSourceResponse:
    """Server-sent events: `state`, `progress`, `outcome`; then `end` once the fix has ended.
    Reconnect with `Last-Event-ID` to continue where you left off."""
    return EventSourceResponse(
        service.follow_events(session, project=project, fix_id=fix_id, stream=stream)
    )


@router.get("/{fix_id}/log")
def fix_log(fix_id: str, project: ProjectDep, session: SessionDep) -> list[FixEventRead]:
    """Every event of the fix so far, in order (what the SSE stream sends)."""
    fix = service.get_fix(session, project=project, fix_id=fix_id)
    return [
        FixEventRead.model_validate(e) for e in events_after(session, fix_id=fix.id, limit=10_000)
    ]
