from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FixCreate(BaseModel):
    """A plan step (or a rung) to run as a measured fix."""

    model_config = ConfigDict(extra="forbid")

    step: int | None = Field(
        default=None, ge=1, le=100, description="the plan step's number (GET .../recommendation)"
    )
    rung: str | None = Field(
        default=None,
        max_length=30,
        description="or a rung/recipe: prompting, rag, lora_sft, dpo, ...",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="recipe config overrides (e.g. max_steps), checked like a job's",
    )
    promote: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="a registered model's name: when the gate passes, the candidate becomes its "
        "next version and is promoted to champion through the registry (the base model is "
        "registered as version 0 with the champion's run when the model has none)",
    )
    holdout_fraction: float = Field(
        default=0.3,
        gt=0,
        lt=0.9,
        description="share of the step's usable cases held out (hash of the input) to measure",
    )


class FixRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    step: int | None
    rung: str
    recipe: str
    title: str
    state: str
    subcategories: list[str]
    triage_version: str | None
    cases: dict[str, Any]
    datasets: dict[str, Any]
    config: dict[str, Any]
    job_id: str | None
    eval_runs: dict[str, Any]
    gate_id: str | None
    gate_status: str | None
    outcome: dict[str, Any]
    promote_model: str | None
    promoted_version: int | None
    cancel_requested: bool
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class FixEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime
