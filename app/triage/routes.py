from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.cases.schemas import FailureCase
from app.deps import CurrentTeam
from app.triage import service
from app.triage.result import TriageResult

router = APIRouter(prefix="/v1/triage", tags=["triage"])


class TriageRequest(BaseModel):
    cases: list[FailureCase] = Field(min_length=1, max_length=1000)


class TriageResponse(BaseModel):
    results: list[TriageResult]


@router.post("")
def triage(body: TriageRequest, team: CurrentTeam) -> TriageResponse:
    """Stateless triage: cases in, one result per case out, in order. Nothing is stored."""
    del team  # authentication only
    return TriageResponse(results=service.triage_cases(body.cases))
