"""The recommendation stored per project: computed by the worker once per change (cases
triaged, triage engine changed), read by `GET .../recommendation` and `.../report` without
touching the cases again."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.advisory.schemas import ProjectContext, Recommendation
from app.cases.models import Case
from app.db import Base, utcnow
from app.projects.models import Project


class StoredRecommendation(Base):
    """A project's recommendation for its default sizing, as of `cases_triaged` cases."""

    __tablename__ = "project_recommendations"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    context_sha256: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(100))
    cases_triaged: Mapped[int] = mapped_column(Integer)
    recommendation: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


def context_key(context: ProjectContext) -> str:
    """What the advice depends on besides the cases (datasets, jobs, evals, model, memory)."""
    return hashlib.sha256(context.model_dump_json().encode()).hexdigest()


def pending_count(session: Session, *, project: Project) -> int:
    """Cases of the project the worker has not triaged yet."""
    stmt = select(func.count()).where(Case.project_id == project.id, Case.triage_version.is_(None))
    return int(session.scalar(stmt) or 0)


def load_json(
    session: Session, *, project: Project, context: ProjectContext
) -> dict[str, Any] | None:
    """The stored recommendation (as stored, JSON) if computed for this context, else None."""
    row = session.get(StoredRecommendation, project.id)
    if row is None or row.context_sha256 != context_key(context):
        return None
    return row.recommendation


def load(session: Session, *, project: Project, context: ProjectContext) -> Recommendation | None:
    """The stored recommendation if it was computed for this context, else None."""
    payload = load_json(session, project=project, context=context)
    return None if payload is None else Recommendation.model_validate(payload)


def save(
    session: Session,
    *,
    project_id: str,
    context: ProjectContext,
    engine_version: str,
    cases_triaged: int,
    recommendation: Recommendation,
) -> None:
    row = session.get(StoredRecommendation, project_id)
    if row is None:
        row = StoredRecommendation(project_id=project_id)
        session.add(row)
    row.context_sha256 = context_key(context)
    row.engine_version = engine_version
    row.cases_triaged = cases_triaged
    row.recommendation = recommendation.model_dump(mode="json")
    row.computed_at = utcnow()
