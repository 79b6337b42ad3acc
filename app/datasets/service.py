"""Dataset versions: store a validated upload once, look versions up, load their rows."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts.store import ArtifactStore
from app.core.errors import InvalidInputError, NotFoundError
from app.datasets.ingest import IngestResult, read_rows
from app.datasets.models import DatasetVersion
from app.projects.models import Project

MIN_PREFIX = 8


class DatasetInvalidError(InvalidInputError):
    """The upload has validation errors; ``report`` is the whole validation report."""

    def __init__(self, message: str, *, report: dict[str, Any]) -> None:
        super().__init__(message, errors=report["errors"])
        self.report = report


def create_version(
    session: Session,
    *,
    project: Project,
    store: ArtifactStore,
    result: IngestResult,
    name: str,
    source_filename: str,
    source_sha256: str,
    holdout_filename: str | None = None,
    parent: str | None = None,
) -> tuple[DatasetVersion, bool]:
    """Store a validated dataset; (version, created). The same content returns the same version."""
    report = result.report.to_dict()
    if not result.ok:
        raise DatasetInvalidError(result.report.summary(), report=report)
    existing = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.project_id == project.id, DatasetVersion.sha256 == result.sha256
        )
    )
    if existing is not None:
        return existing, False
    parent_sha = get_version(session, project=project, ref=parent).sha256 if parent else None
    store.put_file(result.path, kind="dataset", name=f"{name}.jsonl", sha256=result.sha256,
                   move=True)
    version = DatasetVersion(
        project_id=project.id,
        sha256=result.sha256,
        name=name,
        kind=result.kind,
        format=result.format,
        source_filename=source_filename,
        source_sha256=source_sha256,
        holdout_filename=holdout_filename,
        split=result.split,
        rows_train=result.rows_train,
        rows_holdout=result.rows_holdout,
        synthetic_share=result.synthetic_share,
        parent_sha256=parent_sha,
        size_bytes=result.size_bytes,
        report=report,
    )
    session.add(version)
    session.flush()
    return version, True


def get_version(session: Session, *, project: Project, ref: str) -> DatasetVersion:
    """A version by id (dsv_...), full sha256, or a unique sha256 prefix of 8+ characters."""
    ref = ref.strip().lower()
    if ref.startswith("sha256:"):
        ref = ref[len("sha256:"):]
    stmt = select(DatasetVersion).where(DatasetVersion.project_id == project.id)
    if ref.startswith("dsv_"):
        found = list(session.scalars(stmt.where(DatasetVersion.id == ref)))
    elif len(ref) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in ref):
        found = list(session.scalars(stmt.where(DatasetVersion.sha256.startswith(ref)).limit(2)))
    else:
        raise InvalidInputError(
            f"dataset reference {ref!r} is not a version: give its sha256 (or 8+ leading hex "
            "characters) or its id; `rung datasets list PROJECT` shows them",
            errors=[{"field": "dataset", "message": "not a sha256, prefix or dsv_ id"}],
        )
    if not found:
        raise NotFoundError(f"dataset version {ref!r} not found in project {project.name!r}")
    if len(found) > 1:
        raise InvalidInputError(f"dataset prefix {ref!r} is ambiguous; give more characters")
    return found[0]


def list_versions(session: Session, *, project: Project, limit: int = 100) -> list[DatasetVersion]:
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.project_id == project.id)
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def load_rows(
    store: ArtifactStore, *, sha256: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train rows, holdout rows) of a stored version, in Rung's normal form."""
    local = store.local_path(sha256)
    if local is not None and local.exists():
        return read_rows(local)
    with tempfile.TemporaryDirectory() as tmp:
        return read_rows(store.fetch_file(sha256, Path(tmp) / "rows.jsonl"))
