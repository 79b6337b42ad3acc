from __future__ import annotations

import typer
from rich.console import Console

from app.config import get_settings

db_app = typer.Typer(help="Database schema: upgrade, downgrade, show where it stands.")
console = Console()


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Bring the database schema up to date (creates the SQLite file on first use).

    Example: rung db upgrade
    """
    from app.core import migrations  # alembic: only for db commands (CLI start-up)

    url = get_settings().resolved_database_url
    migrations.upgrade(url, revision)
    console.print(f"[green]Database at {migrations.current_revision(url)}[/] ({_safe(url)})")


@db_app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="target revision, or 'base'")) -> None:
    """Step the schema back (data in dropped tables is lost)."""
    from app.core import migrations  # alembic: only for db commands (CLI start-up)

    url = get_settings().resolved_database_url
    migrations.downgrade(url, revision)
    console.print(f"Database at {migrations.current_revision(url) or 'base'}")


@db_app.command("current")
def current() -> None:
    """Show the schema revision and whether it is current."""
    from app.core import migrations  # alembic: only for db commands (CLI start-up)

    url = get_settings().resolved_database_url
    status = migrations.schema_status(url)
    console.print(f"{_safe(url)}: {status.message()}")
    if not status.up_to_date:
        raise typer.Exit(1)


def _safe(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
