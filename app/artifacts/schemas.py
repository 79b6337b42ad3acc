from __future__ import annotations

from datetime import datetime

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
