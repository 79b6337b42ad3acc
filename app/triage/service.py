"""Triage of stored cases, by the worker: new cases (`pending` until then), and again whenever
the engine version changes. `POST .../cases` only validates and stores."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cases import service as cases
from app.cases.models import Case
from app.cases.schemas import FailureCase
from app.config import Settings
from app.triage.result import TriageResult


def _engine():  # type: ignore[no-untyped-def]
    from app.triage.engine import load_engine

    return load_engine()


def llm_reader(settings: Settings | None) -> BaseChatModel | None:
    """The LLM that reads every case beside the offline model, when `RUNG_LLM_*` names one."""
    if settings is None or not (settings.llm_base_url and settings.llm_model):
        return None
    from app.triage.second_opinion import chat_model

    return chat_model(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or "unused",
        model=settings.llm_model,
    )


def triage_cases(
    items: Sequence[FailureCase], *, settings: Settings | None = None
) -> list[TriageResult]:
    """Triage `items`; with an LLM configured in `settings` it reads each case too."""
    return _engine().triage(list(items), second_opinion=llm_reader(settings))


def triage_rows(rows: Sequence[Case]) -> None:
    """Triage rows in place (the caller's transaction stores the result)."""
    if not rows:
        return
    results = triage_cases([cases.to_failure_case(r) for r in rows])
    for row, result in zip(rows, results, strict=True):
        row.triage = result.model_dump(mode="json")
        row.triage_version = result.engine_version


def engine_version() -> str:
    return _engine().version


def triaged_now(rows: Sequence[Case]) -> list[TriageResult]:
    """Results for rows without storing anything: the stored triage where the current engine
    made it, else a fresh one (for RUNG_TRIAGE_ON_INGEST=false, where no worker triages)."""
    version = _engine().version
    stale = [r for r in rows if r.triage_version != version or not r.triage]
    fresh = iter(triage_cases([cases.to_failure_case(r) for r in stale]) if stale else [])
    return [
        next(fresh) if (r.triage_version != version or not r.triage)
        else TriageResult.model_validate(r.triage)
        for r in rows
    ]


def untriaged_ids(session: Session, *, limit: int) -> list[tuple[str, str]]:
    """(case id, project id) of cases the current engine has not triaged: new ones first. The
    engine is loaded only when there is a case to triage or to check (a worker of a database
    without cases never loads it)."""
    new = select(Case.id, Case.project_id).where(Case.triage_version.is_(None)).limit(limit)
    found = [(i, p) for i, p in session.execute(new)]
    triaged = select(Case.id).where(Case.triage_version.is_not(None)).limit(1)
    if len(found) < limit and session.scalar(triaged) is not None:
        version = _engine().version
        stale = (
            select(Case.id, Case.project_id)
            .where(Case.triage_version.is_not(None), Case.triage_version != version)
            .limit(limit - len(found))
        )
        found += [(i, p) for i, p in session.execute(stale)]
    return found
