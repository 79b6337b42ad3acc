from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class ArtifactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    job_id: str | None
    kind: str
    name: str
    digest: str
    is_dir: bool
    size_bytes: int
    file_count: int
    created_at: datetime


class ManifestFile(BaseModel):
    path: str
    size: int
    sha256: str


class ArtifactManifest(BaseModel):
    """This project's record of an artifact. The bytes may be shared by content with other
    projects and teams; the record (name, kind, job, time) is this project's own."""

    id: str
    digest: str
    type: Literal["file", "directory"]
    kind: str
    name: str
    project: str
    job_id: str | None
    files: list[ManifestFile]
    size_bytes: int
    created_at: datetime
