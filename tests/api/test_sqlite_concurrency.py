"""Many concurrent writers on SQLite: every answer is a 2xx or a 503 with Retry-After (never a
500 or a hang), and what was acknowledged is exactly what is stored."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.core import migrations
from app.db import session_scope
from app.teams import service as teams
from tests.conftest import LiveServer

WRITERS = 48
POSTS_EACH = 6


def _batch(n: int, tag: str) -> list[dict]:
    return [{"input": f"q {tag} {i}", "output": "wrong", "expected": "right"} for i in range(n)]


def _hammer(url: str, key: str) -> tuple[Counter, int, list[httpx.Response]]:
    def writer(w: int) -> list[httpx.Response]:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as http:
            return [
                http.post("/v1/projects/bot/cases", json=_batch(1 + (w + i) % 5, f"{w}-{i}"))
                for i in range(POSTS_EACH)
            ]

    with ThreadPoolExecutor(WRITERS) as pool:
        answers = [r for rs in pool.map(writer, range(WRITERS)) for r in rs]
    statuses = Counter(r.status_code for r in answers)
    acknowledged = sum(len(r.json()["ids"]) for r in answers if r.status_code == 201)
    return statuses, acknowledged, answers


def _stored(api: httpx.Client) -> int:
    total, cursor = 0, None
    while True:
        page = api.get("/v1/projects/bot/cases", params={"limit": 500, "cursor": cursor}).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'rung.db'}"
    migrations.upgrade(url)
    return Settings(env="test", home=tmp_path / "home", database_url=url,
                    triage_on_ingest=False, embedded_worker=False)


def _team(settings: Settings) -> tuple[LiveServer, str]:
    with session_scope(settings.resolved_database_url) as session:
        _, key = teams.create_team(session, name="writers")
    return LiveServer(settings), key


def test_many_writers_get_2xx_and_every_ack_is_stored(sqlite_settings: Settings) -> None:
    server, key = _team(sqlite_settings)
    with server, httpx.Client(base_url=server.url,
                              headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
        statuses, acknowledged, _ = _hammer(server.url, key)
        assert set(statuses) <= {201, 503}, statuses
        assert statuses[201] >= WRITERS * POSTS_EACH * 0.9, statuses  # the queue holds them
        assert _stored(api) == acknowledged


def test_a_full_write_queue_answers_503_with_retry_after(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(
        update={"sqlite_max_queued_writes": 1, "sqlite_write_wait_s": 0.05}
    )
    server, key = _team(settings)
    with server, httpx.Client(base_url=server.url,
                              headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
        statuses, acknowledged, answers = _hammer(server.url, key)
        assert set(statuses) <= {201, 503}, statuses
        assert statuses[503] > 0, statuses
        refused = [r for r in answers if r.status_code == 503]
        assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
        assert all("nothing was stored" in r.json()["detail"] for r in refused)
        assert _stored(api) == acknowledged
