"""`rung datasets`: push dataset files (streamed) and list versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli.client import KEY_HELP, URL_HELP, ApiClient, ApiError

datasets_app = typer.Typer(help="Push training data and documents; list dataset versions.")
console = Console()
err = Console(stderr=True)
CHUNK = 1024 * 1024


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@datasets_app.command("push")
def push(
    project: str = typer.Argument(..., help="project name"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".jsonl, .txt or .md"),
    kind: str = typer.Option(None, help="sft | preference | documents (default: detected)"),
    holdout: Path = typer.Option(
        None, exists=True, dir_okay=False, help="evaluation rows (default: a 10% hash split)"
    ),
    name: str = typer.Option(None, help="a label for the version (default: the file name)"),
    parent: str = typer.Option(None, help="the version this one was derived from"),
    base_model: str = typer.Option(None, help="count tokens with this model's tokenizer"),
    max_tokens: int = typer.Option(None, help="token budget per example (default: model context)"),
    recipe: str = typer.Option(None, help="the recipe it is for (row-count thresholds)"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Validate and store a dataset version (streamed; the same content is the same version).

    Example: rung datasets push support-bot data/train.jsonl --holdout data/eval.jsonl
    """
    client = ApiClient(url, key, timeout=3600)
    params: dict[str, Any] = {
        k: v
        for k, v in {
            "kind": kind, "name": name, "parent": parent, "base_model": base_model,
            "max_tokens": max_tokens, "recipe": recipe, "filename": file.name,
        }.items()
        if v is not None
    }
    path = f"/v1/projects/{project}/datasets"
    try:
        if holdout is None:
            text = file.suffix in (".txt", ".md")
            content_type = "text/plain" if text else "application/x-ndjson"
            response = client.request("POST", path, params=params, content=_chunks(file),
                                      headers={"Content-Type": content_type})
        else:
            with file.open("rb") as main, holdout.open("rb") as held:
                response = client.request(
                    "POST", path, params=params,
                    files={"file": (file.name, main), "holdout": (holdout.name, held)},
                )
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    body = response.json()
    version = body["version"]
    verb = "Stored new" if body["created"] else "Already stored:"
    console.print(
        f"[green]{verb} version[/] [bold]{version['sha256']}[/] ({version['kind']}, "
        f"{version['format']}): {version['rows_train']} train / {version['rows_holdout']} "
        f"holdout rows, {version['synthetic_share']:.0%} synthetic"
    )
    _show_warnings(body["report"])


def _show_warnings(report: dict[str, Any]) -> None:
    tokens = report.get("stats", {}).get("tokens")
    if tokens:
        console.print(f"Token budget {tokens['budget']} ({tokens['method']}).")
    warnings = report.get("warnings", [])
    if not warnings:
        return
    table = Table("check", "where", "message", title="Warnings")
    for item in warnings:
        where = f"{item.get('file') or ''}:{item['line']}" if item.get("line") else "-"
        table.add_row(item["check"], where, item["message"])
    console.print(table)
    counts = report.get("counts", {}).get("warnings", {})
    hidden = sum(counts.values()) - len(warnings)
    if hidden > 0:
        console.print(f"... and {hidden} more warnings (see `rung datasets show`).")


@datasets_app.command("list")
def list_versions(
    project: str,
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """List a project's dataset versions, newest first."""
    client = ApiClient(url, key)
    try:
        rows = client.request("GET", f"/v1/projects/{project}/datasets").json()
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    table = Table("sha256", "name", "kind", "format", "train", "holdout", "created")
    for v in rows:
        table.add_row(v["sha256"][:16], v["name"], v["kind"], v["format"], str(v["rows_train"]),
                      str(v["rows_holdout"]), v["created_at"][:19])
    console.print(table)


@datasets_app.command("show")
def show(
    project: str,
    version: str = typer.Argument(..., help="sha256, 8+ character prefix, or id"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Show a version's provenance and validation report (JSON)."""
    client = ApiClient(url, key)
    try:
        body = client.request("GET", f"/v1/projects/{project}/datasets/{version}").json()
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    console.print_json(json.dumps(body))
