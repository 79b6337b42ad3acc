"""What the triage engine says about one failure case."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.cases.schemas import Category, Fix, Subcategory


class TriageResult(BaseModel):
    category: Category
    subcategory: Subcategory
    fix: Fix
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, description="short human-readable reasons")
    needs_review: bool = False
    probabilities: dict[str, float] = Field(
        default_factory=dict, description="probability of each subcategory"
    )
    engine_version: str
