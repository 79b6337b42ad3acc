from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from sse_starlette.sse import EventSourceResponse

from app.artifacts import service as artifacts
from app.artifacts.routes import DOWNLOAD_RESPONSES
from app.artifacts.schemas import ArtifactRead
from app.artifacts.store import store_for
from app.core.idempotency import idempotent
from app.core.sse import EVENT_ID_MAX
from app.deps import EventStreamDep, ProjectDep, SessionDep, SettingsDep
from app.jobs import service
from app.jobs.dispatch import DispatcherDep
from app.jobs.events import events_after, format_event
from app.jobs.models import JOB_STATES
from app.jobs.schemas import JobCreate, JobEventRead, JobRead

router = APIRouter(prefix="/v1/projects/{project}/jobs", tags=["jobs"])

StateFilter = Annotated[str | None, Query(pattern="^(" + "|".join(JOB_STATES) + ")$")]
# EVENT_ID_MAX: event ids are 64-bit; beyond is a 422, not a database overflow


@router.post(
    "",
    status_code=201,
    responses={
        404: {"description": "the dataset, or an artifact or job named as base_model or "
              "adapter_path, is not in this project"},
        422: {"description": "unknown recipe, wrong dataset kind, a bad config key, or a "
              "model path outside RUNG_MODELS_ALLOW (named)"},
        503: {"description": "the broker is down; nothing was queued"},
    },
)
@idempotent
def create_job(
    body: JobCreate, project: ProjectDep, session: SessionDep, settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> JobRead:
    """Queue a recipe run. Config overrides are checked against the recipe's typed config first;
    a GPU recipe goes to the `gpu` queue."""
    job = service.submit_job(
        session,
        project=project,
        data=body,
        dispatcher=dispatcher,
        policy=settings.job,
        models_allow=settings.models_allow_dirs,
    )
    return JobRead.model_validate(job)


@router.get("")
def list_jobs(
    project: ProjectDep,
    session: SessionDep,
    state: StateFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobRead]:
    """The project's jobs, newest first."""
    rows = service.list_jobs(session, project=project, state=state, limit=limit)
    return [JobRead.model_validate(j) for j in rows]


@router.get("/{job_id}")
def get_job(job_id: str, project: ProjectDep, session: SessionDep) -> JobRead:
    return JobRead.model_validate(service.get_job(session, project=project, job_id=job_id))


@router.post("/{job_id}/cancel", responses={409: {"description": "the job has already ended"}})
def cancel_job(job_id: str, project: ProjectDep, session: SessionDep) -> JobRead:
    """Cancel: a queued job at once; a running job stops at its next step (`cancel_requested`)."""
    return JobRead.model_validate(service.cancel_job(session, project=project, job_id=job_id))


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(
    job_id: str, project: ProjectDep, session: SessionDep, stream: EventStreamDep
) -> EventSourceResponse:
    """Server-sent events: `state`, `progress` (phase, step, total_steps, loss, metrics, eta_s),
    `checkpoint`, `log`; then `end` once the job has ended. Each event's id is increasing:
    reconnect with `Last-Event-ID` to continue where you left off."""
    return EventSourceResponse(
        service.follow_events(session, project=project, job_id=job_id, stream=stream), ping=15
    )


@router.get("/{job_id}/events/list")
def list_job_events(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=EVENT_ID_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[JobEventRead]:
    """The same events as JSON (no streaming)."""
    job = service.get_job(session, project=project, job_id=job_id)
    rows = events_after(session, job_id=job.id, after=after, limit=limit)
    return [JobEventRead.model_validate(e) for e in rows]


@router.get("/{job_id}/logs", response_class=PlainTextResponse)
def job_logs(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=EVENT_ID_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 2000,
) -> PlainTextResponse:
    """The job's log as text: state changes, progress, checkpoints and captured log lines."""
    job = service.get_job(session, project=project, job_id=job_id)
    rows = events_after(session, job_id=job.id, after=after, limit=limit)
    text = "".join(format_event(e) + "\n" for e in rows)
    headers = {"X-Rung-Last-Event-Id": str(rows[-1].id if rows else after)}
    return PlainTextResponse(text, headers=headers)


@router.get("/{job_id}/artifacts")
def job_artifacts(job_id: str, project: ProjectDep, session: SessionDep) -> list[ArtifactRead]:
    """What the job produced: adapter/model folders, tokenizer, checkpoint, metrics.json."""
    job = service.get_job(session, project=project, job_id=job_id)
    rows = artifacts.list_artifacts(session, project=project, job_id=job.id)
    return [ArtifactRead.model_validate(a) for a in rows]


@router.get(
    "/{job_id}/artifacts/{artifact_id}/download",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
def download_job_artifact(
    job_id: str, artifact_id: str, project: ProjectDep, session: SessionDep,
    settings: SettingsDep,
) -> StreamingResponse:
    """A file artifact as bytes, a directory artifact as a tar stream."""
    artifact = artifacts.get_artifact(session, project=project, artifact_id=artifact_id,
                                      job_id=job_id)
    return artifacts.download(store_for(settings.resolved_artifacts_url), artifact)
