from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import ConflictError, NotFoundError
from app.projects.models import Project
from app.projects.schemas import ProjectCreate
from app.teams.models import Team


def create_project(session: Session, *, team: Team, data: ProjectCreate) -> Project:
    if _find(session, team=team, name=data.name) is not None:
        raise ConflictError(f"project {data.name!r} already exists in team {team.name!r}")
    project = Project(team_id=team.id, **data.model_dump())
    session.add(project)
    session.flush()
    return project


def get_or_create_project(session: Session, *, team: Team, name: str) -> Project:
    return _find(session, team=team, name=name) or create_project(
        session, team=team, data=ProjectCreate(name=name)
    )


def get_project(session: Session, *, team: Team, name: str) -> Project:
    project = _find(session, team=team, name=name)
    if project is None:
        raise NotFoundError(f"project {name!r} not found")
    return project


def list_projects(session: Session, *, team: Team) -> list[Project]:
    stmt = select(Project).where(Project.team_id == team.id).order_by(Project.name)
    return list(session.scalars(stmt))


def delete_project(session: Session, *, project: Project) -> None:
    session.delete(project)


def _find(session: Session, *, team: Team, name: str) -> Project | None:
    stmt = select(Project).where(Project.team_id == team.id, Project.name == name)
    return session.scalar(stmt)
