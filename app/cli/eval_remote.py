"""`rung eval` against a running Rung: run ids for the gate, and pushing results to a project."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from app.cli.client import KEY_HELP, URL_HELP, ApiClient, ApiError
from app.evaluation.cli import resolve_run_file
from evals.errors import ResultsFileError
from evals.results import RunResult, read_run


def resolve_run(ref: str) -> RunResult:
    """RUN is a results file, or the id of a run stored in Rung (`evr_...`)."""
    if not ref.startswith("evr_") or Path(ref).exists():
        return resolve_run_file(ref)
    try:
        response = ApiClient().request("GET", f"/v1/evals/{ref}/result")
    except ApiError as exc:
        raise ResultsFileError(f"eval run {ref}: {exc.detail}") from exc
    return RunResult.model_validate(response.json())


def push(
    project: str = typer.Argument(..., help="project to store the run in"),
    file: Path = typer.Argument(..., help="a results file written by `rung eval run --out`"),
    name: str = typer.Option("", help="a name for the run (default: the file's run.name)"),
    candidate: str = typer.Option("", help="what was evaluated (model, adapter, endpoint)"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Store an eval run in a project, so gates, promotion and the report can use it.

    Example: rung eval push support-bot cand.json --candidate lora-v2   (prints the run id)
    """
    try:
        result = read_run(file)
    except ResultsFileError as exc:
        Console(stderr=True).print(f"[red]Error:[/] {exc}")
        raise typer.Exit(2) from exc
    body = {"name": name, "candidate": candidate, "result": result.model_dump(mode="json")}
    try:
        created = ApiClient(url, key).request("POST", f"/v1/projects/{project}/evals", json=body)
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    print(created.json()["id"])
