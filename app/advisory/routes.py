from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from app.advisory import service
from app.deps import CurrentTeam, ProjectDep, SessionDep, SettingsDep

router = APIRouter(prefix="/v1/projects/{project}", tags=["advisory"])

BaseModelQuery = Annotated[
    str | None,
    Query(
        max_length=300,
        description="base model to size the tuning advice for (e.g. meta-llama/Llama-3.1-8B); "
        "default: the project's, else RUNG_BASE_MODEL",
    ),
]
GpuMemoryQuery = Annotated[
    float | None,
    Query(
        gt=0,
        le=10_000,
        description="memory of one GPU in GB; default: the project's, else RUNG_GPU_MEMORY_GB",
    ),
]


@router.get("/recommendation")
def get_recommendation(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    base_model: BaseModelQuery = None,
    gpu_memory_gb: GpuMemoryQuery = None,
) -> dict[str, Any]:
    """The project's recommendation: verdict, ordered plan on the ladder, warnings, costs."""
    rec = service.recommendation(
        session,
        project=project,
        settings=settings,
        base_model=base_model,
        gpu_memory_gb=gpu_memory_gb,
    )
    return rec.model_dump(mode="json")


@router.get("/report", response_class=HTMLResponse)
def get_report(
    project: ProjectDep,
    team: CurrentTeam,
    session: SessionDep,
    settings: SettingsDep,
    base_model: BaseModelQuery = None,
    gpu_memory_gb: GpuMemoryQuery = None,
) -> HTMLResponse:
    """The report a CTO reads: a self-contained HTML page (inline SVG charts, prints well)."""
    html = service.report_html(
        session,
        project=project,
        team=team,
        settings=settings,
        base_model=base_model,
        gpu_memory_gb=gpu_memory_gb,
    )
    return HTMLResponse(html)
