from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow

FIX_STATES = ("training", "evaluating", "gating", "succeeded", "failed", "cancelled")
TERMINAL_FIX_STATES = frozenset({"succeeded", "failed", "cancelled"})


class Fix(Base):
    """A plan step run as a measured fix: the data built from its cases, the recipe job, the
    champion's and the candidate's runs on the held-out cases, the gate and the outcome.

    The state advances on the worker (`app.fixes.driver`), which owns a fix through a lease
    renewed while it works, so a crashed worker's fix is taken up again where it stood.
    """

    __tablename__ = "fixes"
    __table_args__ = (
        Index("ix_fixes_project_created", "project_id", "created_at"),
        Index("ix_fixes_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fix"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    step: Mapped[int | None] = mapped_column(Integer, default=None)
    rung: Mapped[str] = mapped_column(String(20))
    recipe: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(20), default="training")
    subcategories: Mapped[list[str]] = mapped_column(JSON, default=list)
    triage_version: Mapped[str | None] = mapped_column(String(100), default=None)
    cases: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    datasets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    eval_runs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gate_id: Mapped[str | None] = mapped_column(String(40), default=None)
    gate_status: Mapped[str | None] = mapped_column(String(10), default=None)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    promote_model: Mapped[str | None] = mapped_column(String(200), default=None)
    promoted_version: Mapped[int | None] = mapped_column(Integer, default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class FixEvent(Base):
    """An event of a fix, in order (SSE clients resume with Last-Event-ID).

    ``type``: ``state`` (state changes), ``progress`` (what the step is doing), ``job`` (the
    recipe job's own state), ``outcome`` (fixed / still failing / broken), ``log``.
    """

    __tablename__ = "fix_events"
    __table_args__ = (Index("ix_fix_events_fix_id_id", "fix_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    fix_id: Mapped[str] = mapped_column(ForeignKey("fixes.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
