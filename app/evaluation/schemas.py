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

    baseline: str = Field(description="eval run id of the baseline (e.g. the champion)")
    candidate: str = Field(description="eval run id of the candidate")
    policy: dict[str, Any] | None = Field(default=None, description="gate policy; default if null")


class GateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    baseline_run_id: str
    candidate_run_id: str
    status: str
    report: dict[str, Any]
    policy: dict[str, Any]
    actor: str
    created_at: datetime
