from __future__ import annotations

from contextlib import AbstractContextManager
from types import ModuleType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from app.config import get_settings
from app.core.errors import RungError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

teams_app = typer.Typer(help="Teams and their API keys (run on the server's machine: direct DB).")
keys_app = typer.Typer(help="List, create and revoke a team's API keys.")
teams_app.add_typer(keys_app, name="keys")
console = Console()


def _db() -> tuple[ModuleType, AbstractContextManager[Session]]:
    """The team service and a session on the configured database (SQLAlchemy is imported here,
    not at CLI start-up)."""
    from app.db import session_scope
    from app.teams import service

    return service, session_scope(get_settings().resolved_database_url)


def _fail(exc: RungError) -> typer.Exit:
    Console(stderr=True).print(f"[red]Error:[/] {exc.message}")
    return typer.Exit(1)


@teams_app.command("create")
def create(
    name: str = typer.Argument(..., help="lowercase slug, e.g. support-bot-team"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print only the key"),
) -> None:
    """Create a team and print its first API key (shown once; only its hash is stored).

    Example: export RUNG_API_KEY=$(rung teams create acme --quiet)
    """
    try:
        service, scope = _db()
        with scope as session:
            team, key = service.create_team(session, name=name)
            team_name = team.name
    except RungError as exc:
        raise _fail(exc) from exc
    if not quiet:
        console.print(f"Team [bold]{team_name}[/] created. API key (store it now, shown once):")
    print(key)


@teams_app.command("list")
def list_teams() -> None:
    """List the teams."""
    service, scope = _db()
    with scope as session:
        table = Table("name", "id", "created")
        for team in service.list_teams(session):
            table.add_row(team.name, team.id, f"{team.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@keys_app.command("list")
def list_keys(team: str) -> None:
    """List a team's keys (prefix only; the secrets are not stored)."""
    try:
        service, scope = _db()
        with scope as session:
            table = Table("id", "name", "prefix", "created", "last used", "revoked")
            for key in service.list_keys(session, team=service.get_team(session, name=team)):
                table.add_row(
                    key.id,
                    key.name,
                    key.prefix + "…",
                    f"{key.created_at:%Y-%m-%d %H:%M}",
                    f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
                    f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-",
                )
    except RungError as exc:
        raise _fail(exc) from exc
    console.print(table)


@keys_app.command("create")
def create_key(team: str, name: str = typer.Option("default", help="a label for the key")) -> None:
    """Create another key for a team and print it once."""
    try:
        service, scope = _db()
        with scope as session:
            owner = service.get_team(session, name=team)
            _, key = service.create_key(session, team=owner, name=name)
    except RungError as exc:
        raise _fail(exc) from exc
    print(key)


@keys_app.command("revoke")
def revoke_key(team: str, key_id: str) -> None:
    """Revoke a key: every request with it gets 401 from now on."""
    try:
        service, scope = _db()
        with scope as session:
            service.revoke_key(session, team=service.get_team(session, name=team), key_id=key_id)
    except RungError as exc:
        raise _fail(exc) from exc
    console.print(f"Key {key_id} revoked.")
