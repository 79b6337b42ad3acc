from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="slug: a-z, 0-9, - and _")
    description: str = Field(default="", max_length=2000)
    base_model: str | None = Field(default=None, max_length=300)
    gpu_memory_gb: float | None = Field(default=None, gt=0, le=10_000)


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    base_model: str | None
    gpu_memory_gb: float | None
    settings: dict[str, Any]
    created_at: datetime
