from __future__ import annotations

from fastapi import APIRouter, status

from app.core.idempotency import idempotent
from app.deps import CurrentTeam, ProjectDep, SessionDep, SettingsDep
from app.jobs.model_refs import parse_ref
from app.projects import service
from app.projects.schemas import ProjectCreate, ProjectRead

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=status.HTTP_201_CREATED)
@idempotent
def create_project(
    body: ProjectCreate, session: SessionDep, team: CurrentTeam, settings: SettingsDep
) -> ProjectRead:
    if body.base_model:  # a hub name or an allowed folder (it sizes advice and token counts)
        parse_ref(body.base_model, field="base_model", models_allow=settings.models_allow_dirs)
    return ProjectRead.model_validate(service.create_project(session, team=team, data=body))


@router.get("")
def list_projects(session: SessionDep, team: CurrentTeam) -> list[ProjectRead]:
    return [ProjectRead.model_validate(p) for p in service.list_projects(session, team=team)]


@router.get("/{project}")
def get_project(project: ProjectDep) -> ProjectRead:
    return ProjectRead.model_validate(project)


@router.delete("/{project}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project: ProjectDep, session: SessionDep) -> None:
    service.delete_project(session, project=project)
