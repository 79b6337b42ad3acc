from __future__ import annotations

import typer
import uvicorn
from rich.console import Console

from app.config import get_settings


def serve(
    host: str = typer.Option(None, help="bind address [env RUNG_HOST, default 127.0.0.1]"),
    port: int = typer.Option(None, help="port [env RUNG_PORT, default 8000]"),
    workers: int = typer.Option(
        1,
        min=1,
        help="API processes (uvicorn workers); the job and triage workers run once, beside them. "
        "On SQLite they take turns to write (a lock file beside the database)",
    ),
) -> None:
    """Start the Rung API server.

    Example: rung serve --port 8000   then open http://127.0.0.1:8000/docs
    """
    settings = get_settings()
    from app.core.migrations import schema_status  # alembic: only when serving

    status = schema_status(settings.resolved_database_url)
    if not status.up_to_date:
        Console(stderr=True).print(f"[red]Not starting:[/] {status.message()}")
        raise typer.Exit(2)
    if workers == 1:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
        )
        return
    # Several API processes: the in-process job worker and the triage worker run here, once
    # (not once per API process); the API processes find their work in the database.
    from app.workers.polling import start_embedded_worker
    from app.workers.triage_worker import start_triage_process

    worker = start_embedded_worker(settings)
    triager = None if settings.broker_url else start_triage_process(settings)
    try:
        uvicorn.run(
            "app.main:create_api_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
        )
    finally:
        if triager is not None:
            triager.stop()
        if worker is not None:
            worker.stop()
