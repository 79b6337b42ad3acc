"""Failure cases at the API edge, in the format of LABELS.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Category = Literal["knowledge", "behavior"]
Subcategory = Literal[
    "missing_knowledge",
    "stale_knowledge",
    "retrieval_gap",
    "format",
    "style",
    "procedure",
    "grounding",
    "preference",
]
Fix = Literal["prompting", "rag", "lora", "dpo"]
Remedy = Literal["prompting", "rag", "lora", "dpo"]

SUBCATEGORIES: tuple[str, ...] = (
    "missing_knowledge",
    "stale_knowledge",
    "retrieval_gap",
    "format",
    "style",
    "procedure",
    "grounding",
    "preference",
)
KNOWLEDGE_SUBCATEGORIES = frozenset({"missing_knowledge", "stale_knowledge", "retrieval_gap"})

MAX_TEXT = 100_000


class FailureCase(BaseModel):
    """One observed bad answer of an LLM application."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    input: str = Field(min_length=1, max_length=MAX_TEXT, description="what the user asked")
    output: str = Field(max_length=MAX_TEXT, description="what the model answered: the failure")
    expected: str | None = Field(default=None, max_length=MAX_TEXT)
    context: list[str] | None = Field(default=None, max_length=200)
    feedback: str | None = Field(default=None, max_length=MAX_TEXT)
    attempted: list[Remedy] = Field(default_factory=list)
    source: str | None = Field(default=None, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("input")
    @classmethod
    def _input_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("input must not be blank")
        return value

    @field_validator("attempted")
    @classmethod
    def _dedupe_attempted(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class CaseLabel(BaseModel):
    """A reviewer's labels for a case."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    subcategory: Subcategory
    fix: Fix

    @field_validator("subcategory")
    @classmethod
    def _known(cls, value: str) -> str:
        return value


class LabelledCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case: FailureCase
    label: CaseLabel


class CaseRead(FailureCase):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: str
    project: str
    created_at: datetime
    reviewer_label: CaseLabel | None = None
    triage_state: Literal["pending", "done"] = Field(
        default="pending", description="pending until the worker has triaged the case"
    )
    triage: dict[str, Any] | None = None


class CaseBatchCreated(BaseModel):
    created: int
    ids: list[str]


class CasePage(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")
