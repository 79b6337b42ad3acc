"""Migrations go from empty to head and back on SQLite and PostgreSQL; models match them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import app.models  # noqa: F401
from app.core import migrations
from app.db import Base, engine_for


def test_upgrade_downgrade_round_trip(empty_db_url) -> None:
    migrations.upgrade(empty_db_url)
    tables = set(inspect(engine_for(empty_db_url)).get_table_names())
    assert {"teams", "api_keys", "projects", "cases"} <= tables
    assert migrations.current_revision(empty_db_url) == migrations.head_revision()
    migrations.downgrade(empty_db_url, "base")
    assert set(inspect(engine_for(empty_db_url)).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(empty_db_url)
    assert migrations.schema_status(empty_db_url).up_to_date


def test_models_match_migrated_schema(db_url) -> None:
    with engine_for(db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
