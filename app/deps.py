"""FastAPI dependencies, as `Annotated` aliases the routers use.

Each sync dependency costs a trip to the threadpool (and back), so only queries go there:
settings, the session object, a recently verified key and a project found in the last few
seconds are resolved on the event loop. A route that ends its own transaction in its thread
(`@commits`, `@idempotent`) spares the session's teardown a trip too, so a request usually
takes one trip: its route.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, make_transient_to_detached
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.core.sse import EVENT_ID_MAX, StreamRequest, event_id
from app.db import WriteQueueFullError, session_factory, write_gate
from app.projects import service as projects
from app.projects.models import Project
from app.teams import service as teams
from app.teams.models import Team

_bearer = HTTPBearer(auto_error=False, description="a team API key from `rung teams create`")


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_event_stream(
    request: Request,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=EVENT_ID_MAX, description="same as Last-Event-ID")
    ] = None,
    follow: bool = True,
) -> StreamRequest:
    """An event stream's request: start after ``?after`` (else the ``Last-Event-ID`` header;
    a header that is not a number starts from the beginning), follow unless ``?follow=false``."""
    return StreamRequest(
        url=settings.resolved_database_url,
        after=after if after is not None else event_id(last_event_id),
        follow=follow,
        disconnected=request.is_disconnected,
    )


EventStreamDep = Annotated[StreamRequest, Depends(get_event_stream)]


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _busy(exc: Exception) -> WriteQueueFullError:
    return WriteQueueFullError(
        f"the database is busy ({type(exc.orig if hasattr(exc, 'orig') else exc).__name__}"
        f": {str(exc).splitlines()[0][:200]}); nothing was stored: retry after the "
        "Retry-After seconds",
        retry_after=2,
    )


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def get_session(request: Request, settings: SettingsDep) -> AsyncIterator[Session]:
    """The request's unit of work. It commits when the route returns, before the response is
    sent (``scope="function"``), so a 2xx is only ever sent for stored data, and a commit that
    fails is the request's error (503 + Retry-After when the database is busy). On SQLite a
    writing request takes its turn at the write gate (503 + Retry-After when too many writes
    queue). Creating the session touches nothing; what is left to commit or roll back at the
    end is done in the threadpool, never on the event loop."""
    url = settings.resolved_database_url
    write = request.method not in _READ_METHODS
    if write and url.startswith("sqlite"):
        gate = write_gate(url)
        gate.max_waiting = settings.sqlite_max_queued_writes
        gate.max_wait_s = settings.sqlite_write_wait_s
    route = request.scope.get("route")
    read_only = not write and getattr(getattr(route, "endpoint", None), "rung_read_only", False)
    session = session_factory(url, write=write, read_only=read_only)()
    try:
        yield session
    except (sa_exc.OperationalError, sa_exc.TimeoutError) as exc:
        await run_in_threadpool(_rollback_and_close, session)
        raise _busy(exc) from exc
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(_rollback_and_close, session)
        else:
            session.close()
        raise
    if not session.in_transaction():  # the route finished its transaction in its own thread
        session.close()
        return
    try:
        await run_in_threadpool(_commit_and_close, session)
    except (sa_exc.OperationalError, sa_exc.TimeoutError) as exc:
        raise _busy(exc) from exc


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def commits(func: Callable[..., Any]) -> Callable[..., Any]:
    """For a sync route with a `session` parameter: commit it in the route's own thread once
    the route returns (the answer is built by then), so the session's teardown has nothing
    left to do on another thread. A failed commit is the request's error, as in `get_session`."""
    if inspect.iscoroutinefunction(func):
        raise TypeError("@commits is for sync routes (their work runs in the threadpool)")

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        answer = func(*args, **kwargs)
        kwargs["session"].commit()
        return answer

    return run


def reads(func: Callable[..., Any]) -> Callable[..., Any]:
    """`@commits` for a sync route that only reads: its session is read-only (on PostgreSQL
    each SELECT runs on its own, without BEGIN and COMMIT round trips)."""
    run = commits(func)
    run.rung_read_only = True  # type: ignore[attr-defined]
    return run


async def get_current_team(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Team:
    """The team of the request's key. A key verified in the last `teams.AUTH_TTL_S` seconds is
    not queried again (a revocation in this process is seen at once, one elsewhere within the
    TTL); otherwise one query in the threadpool."""
    url = request.app.state.settings.resolved_database_url
    key = credentials.credentials if credentials else None
    identity = teams.cached_identity(url, key=key)
    if identity is None:
        identity = await run_in_threadpool(teams.verify_key, url, key=key)
    request.state.actor = identity.actor
    request.state.team_id = identity.team_id
    teams.note_key_used(url, key_id=identity.key_id)
    return identity.team()


CurrentTeam = Annotated[Team, Depends(get_current_team)]


async def get_actor(request: Request, team: CurrentTeam) -> str:
    """Who is acting, for audit records: team/key-name/key-id."""
    del team
    return request.state.actor


Actor = Annotated[str, Depends(get_actor)]


PROJECT_TTL_S = 5.0
_COLUMNS = tuple(c.key for c in Project.__table__.columns)


class ProjectCache:
    """Projects found in the last `ttl_s` seconds, by (database, team id, name), so that a
    request does not query (or take a threadpool trip for) its project. Any change or deletion
    of a project through the ORM in this process forgets it at once; one in another process
    (another `rung serve` worker) is seen within `ttl_s`: meanwhile a write to a deleted project
    fails its foreign key (409, nothing stored) and a read finds nothing of it."""

    def __init__(self, ttl_s: float = PROJECT_TTL_S, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, team_id: str, name: str) -> Project | None:
        entry = self._entries.get((url, team_id, name))
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        project = Project(**entry[1])  # a detached copy of its own: no session, no query
        make_transient_to_detached(project)
        return project

    def put(self, url: str, project: Project) -> None:
        values = {name: project.__dict__[name] for name in _COLUMNS if name in project.__dict__}
        if len(values) != len(_COLUMNS):
            return  # not fully loaded: not worth remembering
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[(url, project.team_id, project.name)] = (time.monotonic(), values)

    def forget(self, project_id: str) -> None:
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if v["id"] == project_id]:
                del self._entries[key]


project_cache = ProjectCache()


@event.listens_for(Project, "after_update")
@event.listens_for(Project, "after_delete")
def _forget_project(_mapper: Any, _connection: Any, target: Project) -> None:
    project_cache.forget(target.id)


def _load_project(session: Session, team: Team, name: str, url: str) -> Project:
    project = projects.get_project(session, team=team, name=name)
    project_cache.put(url, project)
    return project


async def get_project(
    request: Request,
    session: SessionDep,
    team: CurrentTeam,
    project: Annotated[str, Path(description="the project's name")],
) -> Project:
    """The team's project of that name (404 otherwise): from `project_cache` when found there
    (no query), else one query in the threadpool. A DELETE always reads it afresh."""
    url = request.app.state.settings.resolved_database_url
    if request.method != "DELETE":
        found = project_cache.get(url, team.id, project)
        if found is not None:
            return found
    return await run_in_threadpool(_load_project, session, team, project, url)


ProjectDep = Annotated[Project, Depends(get_project)]
