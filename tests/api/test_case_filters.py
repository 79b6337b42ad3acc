"""Listing cases by their triage reads page by page on both backends, in the read-only session
the API gives reads (on PostgreSQL an autocommit connection, where no server-side cursor can
live: streaming with one made every filtered list a 500)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.cases import service
from app.cases.models import Case
from app.db import session_factory, session_scope
from app.projects.models import Project
from app.teams.models import Team


def _seed(url: str) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(url) as session:
        team = Team(name="filters")
        session.add(team)
        session.flush()
        project = Project(team_id=team.id, name="bot")
        session.add(project)
        session.flush()
        for i in range(23):
            triage = (
                None
                if i % 5 == 0
                else {
                    "category": "behavior" if i % 2 else "knowledge",
                    "subcategory": "format" if i % 2 else "missing",
                    "needs_review": i % 3 == 0,
                }
            )
            session.add(
                Case(
                    project_id=project.id,
                    input=f"q{i:02d}",
                    output="a",
                    triage=triage,
                    created_at=start + timedelta(seconds=i),
                )
            )
        return project.id


def _all_pages(url: str, project_id: str, **filters: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        with session_factory(url, read_only=True)() as session:
            project = session.get(Project, project_id)
            assert project is not None
            rows, cursor = service.list_cases(
                session,
                project=project,
                limit=4,
                cursor=cursor,
                **filters,  # type: ignore[arg-type]
            )
            seen.extend(row.input for row in rows)
        if cursor is None:
            return seen


def test_triage_filters_read_every_page(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "FILTER_PAGE", 3)  # several keyset pages per answer page
    project_id = _seed(db_url)
    behaviour = [f"q{i:02d}" for i in range(23) if i % 5 and i % 2]
    assert _all_pages(db_url, project_id, subcategory="format") == behaviour
    assert _all_pages(db_url, project_id, category="knowledge") == [
        f"q{i:02d}" for i in range(23) if i % 5 and not i % 2
    ]
    # a case not triaged yet counts as not flagged
    assert _all_pages(db_url, project_id, needs_review=False) == [
        f"q{i:02d}" for i in range(23) if not (i % 5 and i % 3 == 0)
    ]
    assert _all_pages(db_url, project_id, subcategory="format", needs_review=True) == [
        q for q in behaviour if int(q[1:]) % 3 == 0
    ]
    assert _all_pages(db_url, project_id, subcategory="stale") == []
