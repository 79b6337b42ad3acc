from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.artifacts import service
from app.artifacts.schemas import ArtifactRead
from app.artifacts.store import store_for
from app.deps import ProjectDep, SessionDep, SettingsDep

router = APIRouter(prefix="/v1/projects/{project}/artifacts", tags=["artifacts"])


@router.get("")
def list_artifacts(
    project: ProjectDep,
    session: SessionDep,
    job: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ArtifactRead]:
    """The project's artifacts (adapters, models, checkpoints, metrics...), oldest first."""
    rows = service.list_artifacts(session, project=project, job_id=job, kind=kind, limit=limit)
    return [ArtifactRead.model_validate(a) for a in rows]


@router.get("/{artifact_id}")
def get_artifact(artifact_id: str, project: ProjectDep, session: SessionDep) -> ArtifactRead:
    return ArtifactRead.model_validate(
        service.get_artifact(session, project=project, artifact_id=artifact_id)
    )


@router.get("/{artifact_id}/download")
def download_artifact(
    artifact_id: str, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """The artifact's bytes (a file) or an uncompressed tar stream (a directory)."""
    artifact = service.get_artifact(session, project=project, artifact_id=artifact_id)
    return service.download(store_for(settings.resolved_artifacts_url), artifact)


@router.get("/{artifact_id}/manifest")
def artifact_manifest(
    artifact_id: str, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> dict:
    """The stored manifest: files, sizes, sha256 of each, kind, job, created_at."""
    artifact = service.get_artifact(session, project=project, artifact_id=artifact_id)
    return store_for(settings.resolved_artifacts_url).manifest(artifact.digest)
