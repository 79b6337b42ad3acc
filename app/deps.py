"""FastAPI dependencies, as `Annotated` aliases the routers use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import session_factory
from app.projects import service as projects
from app.projects.models import Project
from app.teams import service as teams
from app.teams.models import Team

_bearer = HTTPBearer(auto_error=False, description="a team API key from `rung teams create`")


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    session = session_factory(settings.resolved_database_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_team(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Team:
    key = teams.authenticate(session, key=credentials.credentials if credentials else None)
    request.state.actor = f"{key.team.name}/{key.name}/{key.id}"
    session.commit()  # keep last_used_at even if the request later fails
    return key.team


CurrentTeam = Annotated[Team, Depends(get_current_team)]


def get_actor(request: Request, team: CurrentTeam) -> str:
    """Who is acting, for audit records: team/key-name/key-id."""
    del team
    return request.state.actor


Actor = Annotated[str, Depends(get_actor)]


def get_project(
    session: SessionDep,
    team: CurrentTeam,
    project: Annotated[str, Path(description="the project's name")],
) -> Project:
    return projects.get_project(session, team=team, name=project)


ProjectDep = Annotated[Project, Depends(get_project)]
