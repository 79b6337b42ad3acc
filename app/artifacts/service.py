"""Artifact rows of a project, and their download as a file or a tar stream."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from app.artifacts.models import Artifact
from app.artifacts.schemas import ArtifactManifest, ManifestFile
from app.artifacts.store import ArtifactStore
from app.core.downloads import attachment
from app.core.errors import NotFoundError
from app.projects.models import Project


def list_artifacts(
    session: Session,
    *,
    project: Project,
    job_id: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[Artifact]:
    stmt = select(Artifact).where(Artifact.project_id == project.id)
    if job_id:
        stmt = stmt.where(Artifact.job_id == job_id)
    if kind:
        stmt = stmt.where(Artifact.kind == kind)
    return list(session.scalars(stmt.order_by(Artifact.created_at, Artifact.id).limit(limit)))


def get_artifact(
    session: Session, *, project: Project, artifact_id: str, job_id: str | None = None
) -> Artifact:
    stmt = select(Artifact).where(Artifact.project_id == project.id, Artifact.id == artifact_id)
    if job_id:
        stmt = stmt.where(Artifact.job_id == job_id)
    artifact = session.scalar(stmt)
    if artifact is None:
        raise NotFoundError(f"artifact {artifact_id!r} not found in project {project.name!r}")
    return artifact


def manifest(store: ArtifactStore, artifact: Artifact, *, project: Project) -> ArtifactManifest:
    """The project's own record of ``artifact``: its row (kind, name, job, time) and the file
    list of the stored content. Nothing of another team's record (the first writer's job,
    file name or time) shows through, even when the bytes are shared."""
    stored = store.manifest(artifact.digest)
    files = [ManifestFile(**{k: f[k] for k in ("path", "size", "sha256")})
             for f in stored["files"]]
    if not artifact.is_dir and files:  # a single file: the path is this record's file name
        files = [files[0].model_copy(update={"path": artifact.name})]
    return ArtifactManifest(
        id=artifact.id,
        digest=artifact.digest,
        type="directory" if artifact.is_dir else "file",
        kind=artifact.kind,
        name=artifact.name,
        project=project.name,
        job_id=artifact.job_id,
        files=files,
        size_bytes=sum(f.size for f in files),
        created_at=artifact.created_at,
    )


def download(store: ArtifactStore, artifact: Artifact) -> StreamingResponse:
    """A file artifact as its bytes; a directory artifact as an uncompressed tar stream."""
    if artifact.is_dir:
        name = f"{artifact.kind}-{artifact.digest[:12]}"
        return StreamingResponse(
            store.iter_tar(artifact.digest, root_name=name),
            media_type="application/x-tar",
            headers={
                "Content-Disposition": attachment(f"{name}.tar"),
                "X-Rung-Digest": artifact.digest,
            },
        )
    return StreamingResponse(
        store.iter_file(artifact.digest),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": attachment(artifact.name),
            "Content-Length": str(artifact.size_bytes),
            "X-Rung-Digest": artifact.digest,
        },
    )
