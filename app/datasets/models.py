from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class DatasetVersion(Base):
    """One immutable dataset version, addressed by the sha256 of its normalised rows.

    The rows themselves are one JSONL file in the artifact store named by ``sha256``; this row
    holds the provenance and the validation report.
    """

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "sha256", name="uq_dataset_versions_project_sha256"),
        Index("ix_dataset_versions_project_created", "project_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dsv"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(40))
    source_filename: Mapped[str] = mapped_column(String(300))
    source_sha256: Mapped[str] = mapped_column(String(64))
    holdout_filename: Mapped[str | None] = mapped_column(String(300), default=None)
    split: Mapped[str] = mapped_column(String(20))
    rows_train: Mapped[int] = mapped_column(default=0)
    rows_holdout: Mapped[int] = mapped_column(default=0)
    synthetic_share: Mapped[float] = mapped_column(default=0.0)
    parent_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
