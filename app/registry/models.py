from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class RegisteredModel(Base):
    """A named model of a project (e.g. `support-bot`), with numbered versions."""

    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_registered_models_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mdl"))
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mver"))
    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(500), doc="artifact sha256, job id, or serving URI")
    base_model: Mapped[str | None] = mapped_column(String(300), default=None)
    eval_run_id: Mapped[str | None] = mapped_column(ForeignKey("eval_runs.id"), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasEvent(Base):
    """Append-only history of which version held which alias, when, why and who said so."""

    __tablename__ = "alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(20))
    version_id: Mapped[str | None] = mapped_column(ForeignKey("model_versions.id"), default=None)
    previous_version_id: Mapped[str | None] = mapped_column(
        ForeignKey("model_versions.id"), default=None
    )
    gate_id: Mapped[str | None] = mapped_column(ForeignKey("gate_decisions.id"), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
