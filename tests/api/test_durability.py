"""A 201 means stored: `rung serve` killed with SIGKILL the instant an acknowledgement arrives
keeps every acknowledged batch (and, a batch being all or nothing, every case of it)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from app.cases.models import Case
from app.db import session_scope
from app.projects.models import Project
from app.teams import service as teams
from tests.api.rung_process import RungProcess

ROUNDS = 20
CLIENTS = 8


def _case(tag: str, i: int) -> dict:
    return {
        "input": f"question {tag}-{i}",
        "output": "a wrong answer",
        "expected": "the right answer",
        "feedback": "wrong",
    }


async def _round(url: str, key: str, project: str, server: RungProcess) -> list[list[str]]:
    """CLIENTS clients post batches until the first 201 arrives, then the server is killed at
    once; returns the case ids of every batch acknowledged."""
    acknowledged: list[list[str]] = []
    killed = asyncio.Event()

    async def client(n: int) -> None:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            while not killed.is_set():
                tag = uuid.uuid4().hex[:8]
                batch = [_case(tag, i) for i in range(1 + n % 5)]
                try:
                    response = await http.post(f"/v1/projects/{project}/cases", json=batch)
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["ids"])
                    if not killed.is_set():
                        killed.set()
                        server.kill()  # the instant the first acknowledgement is read
                    return
                assert response.status_code < 500, response.text

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return acknowledged


def _stored(url: str, ids: list[str]) -> set[str]:
    with session_scope(url) as session:
        return set(session.scalars(select(Case.id).where(Case.id.in_(ids))))


def test_every_acknowledged_batch_survives_kill_9(db_url: str, tmp_path: Path) -> None:
    with session_scope(db_url) as session:
        team, key = teams.create_team(session, name=f"durable-{uuid.uuid4().hex[:6]}")
        session.add(Project(team_id=team.id, name="crash"))
    lost: list[str] = []
    total = 0
    for _ in range(ROUNDS):
        server = RungProcess(database_url=db_url, home=tmp_path / "home").start()
        try:
            batches = asyncio.run(_round(server.url, key, "crash", server))
        finally:
            server.kill()
        assert batches, "no batch was acknowledged before the kill"
        for ids in batches:
            total += 1
            missing = set(ids) - _stored(db_url, ids)
            lost.extend(sorted(missing))
    assert total >= ROUNDS
    assert lost == [], f"{len(lost)} acknowledged cases lost out of {total} batches"
