"""Failure cases over HTTP: each route parses, calls one service function and answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from app.cases import service
from app.cases.schemas import CaseBatchCreated, CasePage, CaseRead, Subcategory
from app.core.idempotency import idempotent
from app.core.json_body import BATCH_BODY_SCHEMA, read_case_batch
from app.deps import ProjectDep, SessionDep, SettingsDep, commits, reads
from app.workers import triage_worker

router = APIRouter(prefix="/v1/projects/{project}/cases", tags=["cases"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=BATCH_BODY_SCHEMA,
)
@idempotent(deferred=True)
def create_cases(
    items: Annotated[Any, Depends(read_case_batch)],
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
) -> CaseBatchCreated:
    """Store a batch of up to `RUNG_MAX_BATCH_CASES` cases, all or nothing. The 201 is sent once
    they are committed; each is `triage_state: pending` until the worker has triaged it."""
    created = service.create_batch(
        session, project=project, items=items, max_items=settings.max_batch_cases
    )
    triage_worker.wake()  # the commit follows at once; the worker looks again when idle
    return created


@router.get("")
@reads
def list_cases(
    project: ProjectDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    source: str | None = None,
    category: Annotated[str | None, Query(pattern="^(knowledge|behavior)$")] = None,
    subcategory: Subcategory | None = None,
    needs_review: bool | None = None,
) -> CasePage:
    return service.case_page(
        session,
        project=project,
        limit=limit,
        cursor=cursor,
        source=source,
        category=category,
        subcategory=subcategory,
        needs_review=needs_review,
    )


@router.get("/{case_id}")
@reads
def get_case(case_id: str, project: ProjectDep, session: SessionDep) -> CaseRead:
    return service.read_case(session, project=project, case_id=case_id)


@router.delete("/{case_id}", status_code=status.HTTP_204_NO_CONTENT)
@commits
def delete_case(case_id: str, project: ProjectDep, session: SessionDep) -> None:
    service.delete_case(session, project=project, case_id=case_id)
