from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse

from app.advisory import service, stored
from app.deps import CurrentTeam, ProjectDep, SessionDep, SettingsDep, reads

router = APIRouter(prefix="/v1/projects/{project}", tags=["advisory"])


async def _sizing(
    base_model: Annotated[
        str | None,
        Query(
            max_length=300,
            description="base model to size the tuning advice for (e.g. meta-llama/Llama-3.1-8B);"
            " default: the project's, else RUNG_BASE_MODEL",
        ),
    ] = None,
    gpu_memory_gb: Annotated[
        float | None,
        Query(
            gt=0,
            le=10_000,
            description="memory of one GPU in GB; default: the project's, else RUNG_GPU_MEMORY_GB",
        ),
    ] = None,
) -> service.Sizing:
    return service.Sizing(base_model=base_model, gpu_memory_gb=gpu_memory_gb)


SizingDep = Annotated[service.Sizing, Depends(_sizing)]


PENDING_HEADER = "X-Rung-Cases-Pending"


@router.get("/recommendation")
@reads
def get_recommendation(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    sizing: SizingDep,
    response: Response,
) -> dict[str, Any]:
    """The project's recommendation: verdict, ordered plan on the ladder, warnings, costs.
    It covers the cases triaged so far; the `X-Rung-Cases-Pending` header counts the others."""
    payload = service.recommendation_json(
        session, project=project, settings=settings, sizing=sizing
    )
    response.headers[PENDING_HEADER] = str(stored.pending_count(session, project=project))
    return payload


@router.get("/report", response_class=HTMLResponse)
def get_report(
    project: ProjectDep,
    team: CurrentTeam,
    session: SessionDep,
    settings: SettingsDep,
    sizing: SizingDep,
) -> HTMLResponse:
    """The report a CTO reads: a self-contained HTML page (inline SVG charts, prints well)."""
    html = service.report_html(
        session, project=project, team=team, settings=settings, sizing=sizing
    )
    pending = stored.pending_count(session, project=project)
    return HTMLResponse(html, headers={PENDING_HEADER: str(pending)})
