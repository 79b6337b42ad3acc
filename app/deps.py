"""FastAPI dependencies, as `Annotated` aliases the routers use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import WriteQueueFullError, session_factory, write_gate
from app.projects import service as projects
from app.projects.models import Project
from app.teams import service as teams
from app.teams.models import Team

_bearer = HTTPBearer(auto_error=False, description="a team API key from `rung teams create`")


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request, settings: SettingsDep) -> Iterator[Session]:
    """The request's unit of work. It commits when the route returns, before the response is
    sent (``scope="function"``), so a 2xx is only ever sent for stored data, and a commit that
    fails is the request's error. On SQLite a writing request takes its turn at the write gate
    (503 + Retry-After when too many writes queue)."""
    url = settings.resolved_database_url
    write = request.method not in _READ_METHODS
    if write and url.startswith("sqlite"):
        gate = write_gate(url)
        gate.max_waiting, gate.max_wait_s = settings.sqlite_max_queued_writes, (
            settings.sqlite_write_wait_s
        )
    session = session_factory(url, write=write)()
    try:
        yield session
        session.commit()
    except (sa_exc.OperationalError, sa_exc.TimeoutError) as exc:
        session.rollback()
        raise WriteQueueFullError(
            f"the database is busy ({type(exc.orig if hasattr(exc, 'orig') else exc).__name__}"
            f": {str(exc).splitlines()[0][:200]}); nothing was stored: retry after the "
            "Retry-After seconds",
            retry_after=2,
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_current_team(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Team:
    key = teams.authenticate(session, key=credentials.credentials if credentials else None)
    request.state.actor = f"{key.team.name}/{key.name}/{key.id}"
    request.state.team_id = key.team_id
    teams.note_key_used(request.app.state.settings.resolved_database_url, key_id=key.id)
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
