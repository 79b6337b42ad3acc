from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.cases.validation import parse_batch
from app.core.json_body import BATCH_BODY_SCHEMA, read_case_batch
from app.deps import CurrentTeam, SettingsDep
from app.triage import service
from app.triage.result import TriageResult

router = APIRouter(prefix="/v1/triage", tags=["triage"])


class TriageResponse(BaseModel):
    results: list[TriageResult]


@router.post("", openapi_extra=BATCH_BODY_SCHEMA)
async def triage(request: Request, team: CurrentTeam, settings: SettingsDep) -> TriageResponse:
    """Stateless triage: cases in (the same batch body as `POST .../cases`, labels ignored),
    one result per case out, in order. Nothing is stored."""
    del team  # authentication only
    items = await read_case_batch(request)
    parsed = parse_batch(
        items,
        max_items=settings.max_batch_cases,
        outcome="no case was triaged; fix them and resend",
    )
    results = await run_in_threadpool(
        lambda: service.triage_cases([case for case, _ in parsed], settings=settings)
    )
    return TriageResponse(results=results)
