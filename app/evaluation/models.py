from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class EvalRun(Base):
    """One eval run: a candidate scored on a holdout, stored example by example."""

    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evr"))
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    candidate: Mapped[str] = mapped_column(String(300), default="")
    dataset: Mapped[str] = mapped_column(String(300), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    judge: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_examples: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalExample(Base):
    __tablename__ = "eval_examples"
    __table_args__ = (UniqueConstraint("run_id", "example_id", name="uq_eval_examples_run_ex"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    example_id: Mapped[str] = mapped_column(String(200))
    scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    output: Mapped[str | None] = mapped_column(Text, default=None)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class GateDecision(Base):
    """A gate's verdict on a candidate run against a baseline run. Never rewritten."""

    __tablename__ = "gate_decisions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("gate"))
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    baseline_run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"))
    candidate_run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy_version: Mapped[int | None] = mapped_column(
        Integer, default=None, doc="version of the project's stored policy the gate applied"
    )
    actor: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GatePolicyVersion(Base):
    """One version of a project's gate policy. Append-only: a PUT adds a version."""

    __tablename__ = "gate_policies"
    __table_args__ = (UniqueConstraint("project_id", "version", name="uq_gate_policies_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
