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
    base_model: str = typer.Option(
        None, "--base-model", help="size the tuning advice for this model (default: project's)"
    ),
    gpu_memory_gb: float = typer.Option(
        None, "--gpu-memory-gb", help="memory of one GPU in GB (default: project's, else settings)"
    ),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Write a project's recommendation report (the page a CTO reads) to a file.

    Example: rung report support-bot --out report.html && xdg-open report.html
    Example: rung report support-bot --gpu-memory-gb 24 --base-model meta-llama/Llama-3.1-70B
    """
    client = ApiClient(url, key)
    path = f"/v1/projects/{project}/" + ("recommendation" if as_json else "report")
    try:
        params = {"base_model": base_model, "gpu_memory_gb": gpu_memory_gb}
        response = client.request(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    if as_json:
        out.write_text(json.dumps(response.json(), indent=2) + "\n", encoding="utf-8")
    else:
        out.write_text(response.text, encoding="utf-8")
    Console().print(f"Wrote {out}")
