from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class Case(Base):
    """One failure case of a project, with the reviewer's labels and Rung's triage."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_project_created", "project_id", "created_at", "id"),
        Index("ix_cases_triage_version", "triage_version", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cas"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text, default=None)
    context: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    feedback: Mapped[str | None] = mapped_column(Text, default=None)
    attempted: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    reviewer_category: Mapped[str | None] = mapped_column(String(20), default=None)
    reviewer_subcategory: Mapped[str | None] = mapped_column(String(30), default=None)
    reviewer_fix: Mapped[str | None] = mapped_column(String(20), default=None)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    triage_version: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
