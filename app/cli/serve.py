from __future__ import annotations

import typer
import uvicorn
from rich.console import Console

from app.config import get_settings
from app.core.migrations import schema_status


def serve(
    host: str = typer.Option(None, help="bind address [env RUNG_HOST, default 127.0.0.1]"),
    port: int = typer.Option(None, help="port [env RUNG_PORT, default 8000]"),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes"),
) -> None:
    """Start the Rung API server.

    Example: rung serve --port 8000   then open http://127.0.0.1:8000/docs
    """
    settings = get_settings()
    status = schema_status(settings.resolved_database_url)
    if not status.up_to_date:
        Console(stderr=True).print(f"[red]Not starting:[/] {status.message()}")
        raise typer.Exit(2)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
    )
