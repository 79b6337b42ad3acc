from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Alias = Literal["champion", "challenger"]


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=500, description="artifact sha256, job id, URI")
    base_model: str | None = Field(default=None, max_length=300)
    eval_run: str | None = Field(default=None, description="eval run id: the version's evidence")
    description: str = Field(default="", max_length=2000)
    base: bool = Field(
        default=False,
        description="register the base model as version 0: its eval run is the baseline the "
        "first champion is gated against (version 0 is never promoted)",
    )


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    version: int
    source: str
    base_model: str | None
    eval_run_id: str | None
    description: str
    created_by: str
    created_at: datetime


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    alias: Alias = "champion"
    gate: str | None = Field(
        default=None,
        description="id of a passed gate whose candidate is this version's run and whose baseline "
        "is the champion's run (the base model's, version 0, for a first champion)",
    )
    reason: str = Field(min_length=1, max_length=2000)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: Alias = "champion"
    reason: str = Field(min_length=1, max_length=2000)


class AliasEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    alias: str
    action: str
    version: int | None
    previous_version: int | None
    gate_id: str | None
    reason: str
    actor: str
    created_at: datetime


class ModelRead(BaseModel):
    name: str
    aliases: dict[str, int | None]
    versions: list[VersionRead]
    history: list[AliasEventRead]
