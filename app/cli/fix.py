"""`rung fix`: run a plan step as a measured fix and print what it fixed, left failing and broke."""

from __future__ import annotations

import time
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from app.cli.client import KEY_HELP, URL_HELP, ApiClient, ApiError
from app.jobs.cli import iter_sse, parse_sets

console = Console()
TERMINAL = ("succeeded", "failed", "cancelled")


def follow_fix(client: ApiClient, project: str, fix_id: str) -> dict[str, Any]:
    """Print the fix's events (states, the job's training, answering) until it ends; reconnects
    with Last-Event-ID. Returns the final fix."""
    last_id = "0"
    path = f"/v1/projects/{project}/fixes/{fix_id}"
    while True:
        try:
            with client.http.stream(
                "GET",
                f"{path}/events",
                headers={"Last-Event-ID": last_id},
                timeout=httpx.Timeout(30, read=600),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(response)
                for event in iter_sse(response):
                    last_id = event.get("id", last_id)
                    if event.get("event") == "end":
                        return client.request("GET", path).json()
                    _show(event)
        except httpx.TransportError:
            time.sleep(1)  # the server restarted or the connection dropped: resume


def _show(event: dict[str, Any]) -> None:
    data = event.get("data") or {}
    kind = event.get("event")
    if kind == "state":
        extra = data.get("message") or data.get("reason") or data.get("summary") or ""
        if data.get("state") == "training":
            extra = f"{data.get('recipe')} job {data.get('job_id')}"
        if data.get("state") == "succeeded":
            extra = f"gate: {data.get('gate')}"
        console.print(f"  [bold]{data.get('state')}[/] {extra}", highlight=False)
    elif kind == "progress":
        console.print(f"    {data.get('message', '')}", highlight=False)
    elif kind == "outcome":
        console.print(f"  [bold]outcome[/] {data.get('sentence', '')}", highlight=False)


def print_outcome(fix: dict[str, Any]) -> None:
    """The fixed / still failing / broken table (overall and by subcategory) and the gate."""
    outcome = fix.get("outcome") or {}
    totals = outcome.get("totals")
    title = f"Fix {fix['id']}: step {fix.get('step') or '-'} ({fix['recipe']}), {fix['state']}"
    if not totals:
        console.print(f"{title}. {fix.get('error') or 'no outcome yet'}", highlight=False)
        return
    table = Table(title=title, title_justify="left")
    for column in (
        "cases",
        "held out",
        "fixed",
        "still failing",
        "broken",
        "still passing",
        "fixed rate",
    ):
        table.add_column(column, justify="right" if column != "cases" else "left")
    rows = [("all", totals), *(outcome.get("by_subcategory") or {}).items()]
    for name, counts in rows:
        rate = counts.get("fixed_rate")
        table.add_row(
            name,
            str(counts["cases"]),
            str(counts["fixed"]),
            str(counts["still_failing"]),
            str(counts["broken"]),
            str(counts["still_passing"]),
            f"{rate:.0%}" if rate is not None else "-",
        )
    console.print(table)
    console.print(f"Acceptable: {outcome.get('criterion', '-')}", highlight=False)
    gate = outcome.get("gate") or {}
    status = gate.get("status") or "not gated"
    console.print(
        f"Gate: [bold]{status}[/]" + (f" ({gate['gate_error']})" if gate.get("gate_error") else "")
    )
    for test in gate.get("paired_tests") or []:
        ci = (
            f"[{test['ci_low']:+.3f}, {test['ci_high']:+.3f}]"
            if test.get("ci_low") is not None and test.get("ci_high") is not None
            else "-"
        )
        console.print(
            f"  {test['metric']:>14}: {test['status']:>9}  champion "
            f"{test.get('baseline_mean') or 0:.3f} -> candidate "
            f"{test.get('candidate_mean') or 0:.3f}  CI {ci}  ({test.get('test') or '-'})",
            highlight=False,
        )


def fix(
    project: str = typer.Argument(..., help="project name"),
    step: int = typer.Option(None, "--step", help="the plan step's number (rung report shows it)"),
    rung: str = typer.Option(None, "--rung", help="or a rung: prompting, rag, lora_sft, dpo, ..."),
    set_: list[str] = typer.Option([], "--set", help="recipe config override key=value"),
    holdout_fraction: float = typer.Option(0.3, help="share of the step's cases held out"),
    wait: bool = typer.Option(False, "--wait", help="follow it; exit 1 unless it succeeds"),
    url: str = typer.Option(None, help=URL_HELP),
    key: str = typer.Option(None, help=KEY_HELP),
) -> None:
    """Run a step of the project's plan as a measured fix: build its data from the triaged cases,
    train or build the fix, answer the held-out cases with the champion and the candidate, count
    fixed / still failing / broken, and gate it.

    Example: rung fix parcelpoint --step 1 --wait
    """
    if (step is None) == (rung is None):
        console.print("[red]Give --step N or --rung NAME (one of them).[/]")
        raise typer.Exit(2)
    client = ApiClient(url, key, timeout=600)
    body: dict[str, Any] = {"config": parse_sets(set_), "holdout_fraction": holdout_fraction}
    body.update({"step": step} if step is not None else {"rung": rung})
    try:
        created = client.request("POST", f"/v1/projects/{project}/fixes", json=body).json()
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    cases = created["cases"]
    console.print(
        f"Fix [bold]{created['id']}[/]: {created['title']} - {len(cases['train'])} training and "
        f"{len(cases['holdout'])} held-out case(s); {created['recipe']} job {created['job_id']}.",
        highlight=False,
    )
    if not wait:
        return
    try:
        final = follow_fix(client, project, created["id"])
    except ApiError as exc:
        exc.show()
        raise typer.Exit(1) from exc
    print_outcome(final)
    if final["state"] != "succeeded":
        raise typer.Exit(1)
