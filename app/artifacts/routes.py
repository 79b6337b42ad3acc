from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.artifacts import service
from app.artifacts.schemas import ArtifactManifest, ArtifactRead
from app.artifacts.store import store_for
from app.deps import ProjectDep, SessionDep, SettingsDep

router = APIRouter(prefix="/v1/projects/{project}/artifacts", tags=["artifacts"])

DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a file artifact's bytes, or a directory artifact as an uncompressed tar",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


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


@router.get(
    "/{artifact_id}/download",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
def download_artifact(
    artifact_id: str, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """The artifact's bytes (a file) or an uncompressed tar stream (a directory)."""
    artifact = service.get_artifact(session, project=project, artifact_id=artifact_id)
    return service.download(store_for(settings.resolved_artifacts_url), artifact)


@router.get("/{artifact_id}/manifest")
def artifact_manifest(
    artifact_id: str, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> ArtifactManifest:
    """This project's record of the artifact: files (path, size, sha256), kind, name, job,
    created_at. Bytes are shared by content; the record is per project."""
    artifact = service.get_artifact(session, project=project, artifact_id=artifact_id)
    store = store_for(settings.resolved_artifacts_url)
    return service.manifest(store, artifact, project=project)
