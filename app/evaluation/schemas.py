from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EvalRunCreate(BaseModel):
    """A run result (the file `rung eval run --out` writes) plus where it came from."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    candidate: str = Field(default="", max_length=300, description="model, adapter or endpoint")
    dataset: str = Field(default="", max_length=300, description="holdout dataset version")
    result: dict[str, Any] = Field(description='{"run": {...}, "examples": [{"id", "scores"}]}')


class EvalRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    candidate: str
    dataset: str
    n_examples: int
    summary: dict[str, Any]
    judge: dict[str, Any]
    created_at: datetime


class GateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: str = Field(description="eval run id of the baseline: the champion's run")
    candidate: str = Field(description="eval run id of the candidate")
    policy: dict[str, Any] | None = Field(
        default=None,
        description="fields that tighten the project's stored gate policy (never loosen it)",
    )


class GateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    baseline_run_id: str
    candidate_run_id: str
    status: str
    report: dict[str, Any]
    policy: dict[str, Any]
    policy_version: int | None
    actor: str
    created_at: datetime


class GatePolicyWrite(BaseModel):
    """A new version of the project's gate policy (the format of `rung eval gate --policy`)."""

    model_config = ConfigDict(extra="forbid")

    policy: dict[str, Any] = Field(description='e.g. {"defaults": {"margin": 0.02}}')
    reason: str = Field(default="", max_length=2000, description="why it changed")


class GatePolicyVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    policy: dict[str, Any]
    reason: str
    actor: str
    created_at: datetime | None


class GatePolicyRead(BaseModel):
    """The policy in force (version 0 = the built-in defaults) and every stored version."""

    version: int
    policy: dict[str, Any]
    defaults_in_force: dict[str, Any] = Field(
        description="what applies to a metric the policy does not name (margin null: 0.01 "
        "absolute for scores in [0, 1], else 1% of the baseline mean)"
    )
    history: list[GatePolicyVersionRead]
