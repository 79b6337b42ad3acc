"""`rung jobs`: run a recipe as a job and follow it; list, show, cancel, logs, artifacts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.client import KEY_HELP, URL_HELP, ApiClient, ApiError

jobs_app = typer.Typer(help="Run recipes as jobs and follow them.")
console = Console()
err = Console(stderr=True)
TERMINAL = ("succeeded", "failed", "cancelled")


def _fail(exc: ApiError) -> typer.Exit:
    exc.show()
    return typer.Exit(1)


def parse_sets(values: list[str]) -> dict[str, str]:
    """``["lora_r=8", "learning_rate=1e-4"]`` -> a dict of strings (the recipe config coerces)."""
    out: dict[str, str] = {}
    for item in values:
        if "=" not in item:
            err.print(f"[red]--set {item!r} is not key=value[/]")
            raise typer.Exit(2)
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def iter_sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream response into {id, event, data} dicts."""
    event: dict[str, Any] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data or event:
                event["data"] = json.loads("\n".join(data)) if data else {}
                yield event
            event, data = {}, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field in ("id", "event"):
            event[field] = value


def follow_job(client: ApiClient, project: str, job_id: str) -> dict[str, Any]:
    """Show a progress bar (phase, step/total, loss, ETA) from the job's SSE stream until it
    ends; reconnects with Last-Event-ID. Returns the final job."""
    last_id = "0"
    path = f"/v1/projects/{project}/jobs/{job_id}/events"
    columns = (
        TextColumn("[bold]{task.fields[phase]:>8}"),
        BarColumn(),
        TextColumn("{task.fields[steps]}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("eta {task.fields[eta]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("job", total=None, phase="queued", steps="", loss="-",
                                 eta="-")
        while True:
            try:
                with client.http.stream("GET", path, headers={"Last-Event-ID": last_id},
                                        timeout=httpx.Timeout(30, read=120)) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise ApiError(response)
                    for event in iter_sse(response):
                        last_id = event.get("id", last_id)
                        if event.get("event") == "end":
                            return client.request("GET", path.rsplit("/", 1)[0]).json()
                        _update(progress, task, event)
            except httpx.TransportError:
                time.sleep(1)  # the server restarted or the connection dropped: resume


def _update(progress: Progress, task: Any, event: dict[str, Any]) -> None:
    data = event.get("data") or {}
    kind = event.get("event")
    if kind == "progress":
        fields: dict[str, Any] = {"phase": data.get("phase", "")}
        if data.get("loss") is not None:
            fields["loss"] = f"{data['loss']:.4f}"
        if data.get("eta_s") is not None:
            fields["eta"] = f"{data['eta_s']:.0f}s"
        total = data.get("total_steps") or None
        step = data.get("step", 0)
        fields["steps"] = f"{step}/{total}" if total else ""
        progress.update(task, total=total, completed=step, **fields)
    elif kind == "state":
        progress.update(task, phase=data.get("state", ""))
        if data.get("reason"):
            progress.console.print(f"[dim]{data['reason']}[/]")
    elif kind == "checkpoint":
        progress.console.print(f"[dim]checkpoint at step {data.get('step')}[/]")


@jobs_app.command("run")
def run(
    project: str = typer.Argument(..., help="project name"),
    recipe: str = typer.Option(..., help="lora_sft, qlora_sft, dpo, full_sft, ..."),
    dataset: str = typer.Option(..., help="dataset version: sha256, 8+ char prefix, or id"),
    base_model: str = typer.Option(None, help="hub name or local folder of the base model"),
    holdout: str = typer.Option(None, help="another dataset version to evaluate on"),
    set_: list[str] = typer.Option([], "--set", help="config override key=value (repeatable)"),
    processes: int = typer.Option(
        1, min=1, help="training processes (accelerate launch): GPUs on a GPU worker"
    ),
    wait: bool = typer.Option(False, "--wait", help="follow progress; exit 1 unless it succeeds"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Queue a recipe run on a dataset version.

    Example: rung jobs run support-bot --recipe lora_sft --dataset 3f9a1c2e --set lora_r=8 --wait
    """
    client = ApiClient(url, key)
    body: dict[str, Any] = {"recipe": recipe, "dataset": dataset, "config": parse_sets(set_)}
    if base_model:
        body["base_model"] = base_model
    if holdout:
        body["holdout"] = holdout
    if processes > 1:
        body["resources"] = {"processes": processes}
    try:
        job = client.request("POST", f"/v1/projects/{project}/jobs", json=body).json()
    except ApiError as exc:
        raise _fail(exc) from exc
    console.print(f"Job [bold]{job['id']}[/] queued on '{job['queue']}'.")
    if not wait:
        return
    try:
        final = follow_job(client, project, job["id"])
    except ApiError as exc:
        raise _fail(exc) from exc
    _print_outcome(final)
    if final["state"] != "succeeded":
        raise typer.Exit(1)


def _print_outcome(job: dict[str, Any]) -> None:
    if job["state"] == "succeeded":
        console.print(f"[green]Succeeded[/] after {job['attempts']} attempt(s). {job['summary']}")
    else:
        err.print(f"[red]{job['state'].capitalize()}[/] after {job['attempts']} attempt(s): "
                  f"{job.get('error') or ''}")


@jobs_app.command("list")
def list_jobs(
    project: str,
    state: str = typer.Option(None, help="queued, running, succeeded, failed, cancelled"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """List a project's jobs, newest first."""
    client = ApiClient(url, key)
    params = {"state": state} if state else {}
    try:
        rows = client.request("GET", f"/v1/projects/{project}/jobs", params=params).json()
    except ApiError as exc:
        raise _fail(exc) from exc
    table = Table("id", "recipe", "state", "attempts", "step", "dataset", "created")
    for job in rows:
        progress = job.get("progress") or {}
        step = f"{progress.get('step', '-')}/{progress.get('total_steps', '-')}"
        table.add_row(job["id"], job["recipe"], job["state"], str(job["attempts"]), step,
                      job["dataset_sha256"][:12], job["created_at"][:19])
    console.print(table)


@jobs_app.command("show")
def show(
    project: str,
    job_id: str,
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Show one job (JSON)."""
    client = ApiClient(url, key)
    try:
        job = client.request("GET", f"/v1/projects/{project}/jobs/{job_id}").json()
    except ApiError as exc:
        raise _fail(exc) from exc
    console.print_json(json.dumps(job))


@jobs_app.command("cancel")
def cancel(
    project: str,
    job_id: str,
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Cancel a job: at once if queued, at its next step if running."""
    client = ApiClient(url, key)
    try:
        job = client.request("POST", f"/v1/projects/{project}/jobs/{job_id}/cancel").json()
    except ApiError as exc:
        raise _fail(exc) from exc
    if job["state"] == "cancelled":
        console.print(f"Job {job_id} cancelled.")
    else:
        console.print(f"Job {job_id} asked to stop; it stops at its next step.")


@jobs_app.command("logs")
def logs(
    project: str,
    job_id: str,
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing until it ends"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Print a job's log (state changes, progress, checkpoints, warnings)."""
    client = ApiClient(url, key)
    after = 0
    base = f"/v1/projects/{project}/jobs/{job_id}"
    try:
        while True:
            response = client.request("GET", f"{base}/logs", params={"after": after})
            if response.text:
                print(response.text, end="")
            after = int(response.headers.get("X-Rung-Last-Event-Id", after))
            if not follow or client.request("GET", base).json()["state"] in TERMINAL:
                if follow:  # print what arrived between the last read and the end
                    print(client.request("GET", f"{base}/logs", params={"after": after}).text,
                          end="")
                return
            time.sleep(1)
    except ApiError as exc:
        raise _fail(exc) from exc


@jobs_app.command("artifacts")
def artifacts(
    project: str,
    job_id: str,
    download: str = typer.Option(None, help="an artifact id to download"),
    output: Path = typer.Option(None, "--output", "-o", help="where to write the download"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """List a job's artifacts, or download one (a folder comes as a .tar)."""
    client = ApiClient(url, key, timeout=3600)
    base = f"/v1/projects/{project}/jobs/{job_id}/artifacts"
    try:
        if download is None:
            rows = client.request("GET", base).json()
            table = Table("id", "kind", "name", "files", "bytes", "digest")
            for a in rows:
                table.add_row(a["id"], a["kind"], a["name"], str(a["file_count"]),
                              str(a["size_bytes"]), a["digest"][:16])
            console.print(table)
            return
        with client.http.stream("GET", f"{base}/{download}/download") as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response)
            disposition = response.headers.get("content-disposition", "")
            name = disposition.split("filename=")[-1].strip('"') or download
            target = output or Path(name)
            with target.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        console.print(f"Wrote {target}")
    except ApiError as exc:
        raise _fail(exc) from exc
