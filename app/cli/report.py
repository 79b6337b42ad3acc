from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from app.cli.client import KEY_HELP, URL_HELP, ApiClient, ApiError


def report(
    project: str = typer.Argument(..., help="project name"),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="where to write it"),
    as_json: bool = typer.Option(False, "--json", help="write the recommendation JSON instead"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Write a project's recommendation report (the page a CTO reads) to a file.

    Example: rung report support-bot --out report.html && xdg-open report.html
    """
    client = ApiClient(url, key)
    path = f"/v1/projects/{project}/" + ("recommendation" if as_json else "report")
    try:
        response = client.request("GET", path)
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    if as_json:
        out.write_text(json.dumps(response.json(), indent=2) + "\n", encoding="utf-8")
    else:
        out.write_text(response.text, encoding="utf-8")
    Console().print(f"Wrote {out}")
