"""Triage of stored cases: on ingest, and again whenever the engine version changes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.cases import service as cases
from app.cases.models import Case
from app.cases.schemas import FailureCase
from app.projects.models import Project
from app.triage.result import TriageResult


def _engine():  # type: ignore[no-untyped-def]
    from app.triage.engine import load_engine

    return load_engine()


def triage_cases(items: Sequence[FailureCase]) -> list[TriageResult]:
    return _engine().triage(list(items))


def triage_rows(rows: Sequence[Case]) -> None:
    """Triage rows in place (the caller's transaction stores the result)."""
    if not rows:
        return
    results = triage_cases([cases.to_failure_case(r) for r in rows])
    for row, result in zip(rows, results, strict=True):
        row.triage = result.model_dump(mode="json")
        row.triage_version = result.engine_version


def ensure_triaged(session: Session, *, project: Project) -> list[Case]:
    """All cases of the project, re-triaging those the current engine has not seen."""
    rows = cases.all_cases(session, project=project)
    version = _engine().version
    stale = [r for r in rows if r.triage_version != version]
    if stale:
        triage_rows(stale)
        session.flush()
    return rows
