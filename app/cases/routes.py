from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from app.cases import service
from app.cases.schemas import CaseBatchCreated, CasePage, CaseRead, Subcategory
from app.cases.validation import parse_batch
from app.core.errors import InvalidInputError
from app.deps import ProjectDep, SessionDep, SettingsDep
from app.triage import service as triage

router = APIRouter(prefix="/v1/projects/{project}/cases", tags=["cases"])

_BATCH_DOC = (
    'A JSON array of failure cases, or {"cases": [...]}. Each item is a bare case '
    '(input, output, expected, context, feedback, attempted, source, metadata) or a labelled '
    'line {"case": {...}, "label": {...}} whose label is kept as the reviewer label.'
)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"the body is not valid JSON: {exc}",
            errors=[{"index": None, "field": "(body)", "message": str(exc)}],
        ) from exc


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": _BATCH_DOC,
            "content": {"application/json": {"schema": {"type": ["array", "object"]}}},
        }
    },
)
async def create_cases(
    request: Request, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> CaseBatchCreated:
    """Store a batch of up to `RUNG_MAX_BATCH_CASES` cases, all or nothing, and triage them."""
    body = await _json_body(request)
    items = body.get("cases") if isinstance(body, dict) else body
    parsed = parse_batch(items, max_items=settings.max_batch_cases)
    rows = service.store_cases(session, project=project, parsed=parsed)
    if settings.triage_on_ingest:
        triage.triage_rows(rows)
    return CaseBatchCreated(created=len(rows), ids=[r.id for r in rows])


@router.get("")
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
    rows, next_cursor = service.list_cases(
        session,
        project=project,
        limit=limit,
        cursor=cursor,
        source=source,
        category=category,
        subcategory=subcategory,
        needs_review=needs_review,
    )
    return CasePage(
        items=[service.to_read(r, project=project) for r in rows], next_cursor=next_cursor
    )


@router.get("/{case_id}")
def get_case(case_id: str, project: ProjectDep, session: SessionDep) -> CaseRead:
    return service.to_read(
        service.get_case(session, project=project, case_id=case_id), project=project
    )


@router.delete("/{case_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_case(case_id: str, project: ProjectDep, session: SessionDep) -> None:
    service.delete_case(session, project=project, case_id=case_id)



