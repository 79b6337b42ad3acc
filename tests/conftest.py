"""Shared fixtures: real databases (SQLite and PostgreSQL), a real HTTP server, teams and keys."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.core import migrations
from app.db import engine_for, session_scope
from app.main import create_app
from app.teams import service as teams

POSTGRES_URL = os.environ.get(
    "RUNG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RUNG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# CI sets this: a missing service is then a failure, never a silent skip.
REQUIRE_SERVICES = os.environ.get("RUNG_REQUIRE_SERVICES") == "1"


def service_missing(message: str) -> NoReturn:
    """Skip a test whose service, browser or bundled model is missing (``message`` says which
    and how to get it); with RUNG_REQUIRE_SERVICES=1 fail it instead. Every such skip of the
    suite goes through here (tests/test_skips.py checks)."""
    if REQUIRE_SERVICES:
        pytest.fail(message + "; RUNG_REQUIRE_SERVICES=1 makes that an error")
    pytest.skip(message)


def _service_missing(what: str, why: str) -> NoReturn:
    service_missing(f"{what} is not reachable ({why})")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any connection failure
        _service_missing("PostgreSQL", str(exc).splitlines()[0])
    return POSTGRES_URL


def _fresh_postgres_db(admin_url: str) -> Iterator[str]:
    name = f"rung_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        engine_for(url).dispose()
        engine_for.cache_clear()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rung.db'}"
    else:
        yield from _fresh_postgres_db(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A database on each backend, migrated to head."""
    migrations.upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def settings(db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        home=tmp_path / "home",
        database_url=db_url,
        triage_on_ingest=False,
        max_body_bytes=2 * 1024 * 1024,
        # jobs may name model folders by path only here (tiny_model lives under it)
        models_allow=str(tmp_path_factory.getbasetemp()),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The real app on uvicorn in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


@pytest.fixture
def make_team(settings: Settings):  # type: ignore[no-untyped-def]
    """Create a team; returns (name, key)."""

    def _make(name: str | None = None) -> tuple[str, str]:
        name = name or f"team-{uuid.uuid4().hex[:8]}"
        with session_scope(settings.resolved_database_url) as session:
            _, key = teams.create_team(session, name=name)
        return name, key

    return _make


@pytest.fixture
def api(live_server: LiveServer, make_team) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """An HTTP client on the live server, authenticated as a fresh team."""
    _, key = make_team()
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama chat model folder shared by the session (read it, do not write)."""
    from tests.tiny_llama import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
