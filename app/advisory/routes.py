from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.advisory import service
from app.deps import CurrentTeam, ProjectDep, SessionDep, SettingsDep

router = APIRouter(prefix="/v1/projects/{project}", tags=["advisory"])


@router.get("/recommendation")
def get_recommendation(
    project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """The project's recommendation: verdict, ordered plan on the ladder, warnings, costs."""
    rec = service.recommendation(session, project=project, settings=settings)
    return rec.model_dump(mode="json")


@router.get("/report", response_class=HTMLResponse)
def get_report(
    project: ProjectDep, team: CurrentTeam, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The report a CTO reads: a self-contained HTML page (inline SVG charts, prints well)."""
    return HTMLResponse(service.report_html(session, project=project, team=team,
                                            settings=settings))
