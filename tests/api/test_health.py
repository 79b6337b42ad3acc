from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.core import migrations
from app.main import SchemaBehindError, create_app


def test_healthz_and_readyz(live_server) -> None:
    assert httpx.get(f"{live_server.url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{live_server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema"] == migrations.head_revision()


def test_service_refuses_to_start_on_a_schema_behind(empty_db_url, tmp_path) -> None:
    settings = Settings(env="test", home=tmp_path, database_url=empty_db_url)
    app = create_app(settings)
    with pytest.raises(SchemaBehindError, match="rung db upgrade"):
        import asyncio

        async def start() -> None:
            async with app.router.lifespan_context(app):
                pass

        asyncio.run(start())


def test_readyz_reports_a_schema_behind(empty_db_url, tmp_path) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(env="test", home=tmp_path, database_url=empty_db_url)
    with TestClient(create_app(settings, check_schema=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "rung db upgrade" in response.json()["detail"]


def test_prod_refuses_unsafe_defaults(tmp_path) -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(env="prod", home=tmp_path)
    with pytest.raises(ValidationError, match="RUNG_BROKER_URL"):
        Settings(env="prod", database_url="postgresql+psycopg://x@db/rung")
    ok = Settings(
        env="prod", database_url="postgresql+psycopg://x@db/rung", broker_url="redis://r:6379/0"
    )
    assert ok.env == "prod"
