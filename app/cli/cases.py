from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from app.cli.client import KEY_HELP, URL_HELP, ApiClient, ApiError

cases_app = typer.Typer(help="Send failure cases to Rung and read them back.")
console = Console()


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file as an object; exits 2 naming the first bad line."""
    items: list[dict] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                Console(stderr=True).print(f"[red]{path}:{number}: not valid JSON:[/] {exc}")
                raise typer.Exit(2) from exc
    return items


@cases_app.command("import")
def import_cases(
    project: str = typer.Argument(..., help="project name (created if missing)"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL, one case a line"),
    batch: int = typer.Option(500, min=1, max=1000, help="cases per request"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Import a JSONL file of failure cases (bare, or labelled {"case":..,"label":..} lines).

    Example: rung cases import support-bot demo/cases.jsonl

    Each batch is stored all or nothing; a bad line stops the import and is named by line.
    """
    client = ApiClient(url, key)
    items = read_jsonl(file)
    _ensure_project(client, project)
    done = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"importing into {project}", total=len(items))
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            try:
                client.request("POST", f"/v1/projects/{project}/cases", json=chunk)
            except ApiError as exc:
                for item in exc.errors:
                    if isinstance(item.get("index"), int):
                        item["line"] = start + item.pop("index") + 1
                exc.show()
                Console(stderr=True).print(f"{done} cases were imported before this batch.")
                raise typer.Exit(1) from exc
            done += len(chunk)
            progress.update(task, completed=done)
    console.print(f"[green]Imported {done} cases into {project}.[/]")


def _ensure_project(client: ApiClient, project: str) -> None:
    try:
        client.request("GET", f"/v1/projects/{project}")
    except ApiError as exc:
        if exc.status != 404:
            exc.show()
            raise typer.Exit(1) from exc
        client.request("POST", "/v1/projects", json={"name": project})


@cases_app.command("list")
def list_cases(
    project: str,
    limit: int = typer.Option(20, min=1, max=500),
    subcategory: str = typer.Option(None, help="only cases triaged as this subcategory"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """List a project's cases with their triage."""
    client = ApiClient(url, key)
    params: dict[str, str | int] = {"limit": limit}
    if subcategory:
        params["subcategory"] = subcategory
    try:
        page = client.request("GET", f"/v1/projects/{project}/cases", params=params).json()
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    for item in page["items"]:
        triage = item.get("triage") or {}
        label = f"{triage.get('subcategory', '?')} -> {triage.get('fix', '?')}"
        console.print(f"{item['id']}  [bold]{label:32}[/] {item['input'][:70]!r}")
