"""`rung demo`: what `make run` runs. Rung on the embedded defaults with a demo project.

Steps (each one skipped when a previous run already did it, so a second run is quick):
migrate; prepare the offline SmolLM2 model; a `demo` team; serve Rung; import the Parcelpoint
failure cases; push the team's documents; then run the project's plan, step by step in the
plan's order, through the fix service (`POST .../fixes`, what `rung fix` calls): each step builds
its data from the triaged cases, runs its recipe (prompting, RAG, a short LoRA SFT, a short DPO
on top of the SFT adapter), answers the held-out cases with the champion and the candidate,
counts fixed / still failing / broken and gates it; write the report; keep serving.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import uvicorn
from rich.console import Console
from rich.rule import Rule

from app.cli.client import ApiClient, ApiError
from app.config import Settings, get_settings
from app.core.errors import NotFoundError

console = Console()
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
PROJECT = "parcelpoint"
MODEL_NAME = "parcelpoint-assistant"
# Short on purpose: the demo trains on a laptop CPU in a few minutes. Per recipe, what the
# demo's fix of a plan step overrides (the rest is the recipe's defaults).
FIX_CONFIG: dict[str, dict[str, Any]] = {
    "prompting": {"max_new_tokens": 48, "max_reasks": 1},
    "rag": {"max_new_tokens": 48, "eval_limit": 8},
    "lora_sft": {
        "max_steps": 8,
        "save_steps": 4,
        "eval_steps": 4,
        "per_device_train_batch_size": 4,
    },
    "dpo": {"max_steps": 6, "save_steps": 3, "eval_steps": 3, "per_device_train_batch_size": 4},
}
FIX_CONFIG["qlora_sft"] = FIX_CONFIG["full_sft"] = FIX_CONFIG["lora_sft"]
SFT_RECIPES = ("lora_sft", "qlora_sft", "full_sft")


@dataclass
class DemoServer:
    settings: Settings
    port: int

    def start(self) -> threading.Thread:
        from app.main import create_app

        config = uvicorn.Config(
            create_app(self.settings), host=self.settings.host, port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        thread = threading.Thread(target=self.server.run, name="rung-api", daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise typer.Exit(_die(f"Rung could not start on port {self.port} (in use?)"))
            time.sleep(0.1)
        return thread


def _die(message: str) -> int:
    Console(stderr=True).print(f"[red]demo:[/] {message}")
    return 1


def _step(title: str) -> None:
    console.print(Rule(f"[bold]{title}"))


def _team_key(settings: Settings) -> str:
    from app.db import session_scope  # SQLAlchemy: loaded when the demo runs (CLI start-up)
    from app.teams import service as teams

    with session_scope(settings.resolved_database_url) as session:
        try:
            team = teams.get_team(session, name="demo")
        except NotFoundError:
            _, key = teams.create_team(session, name="demo")
        else:
            _, key = teams.create_key(session, team=team, name=f"demo-{int(time.time())}")
    return key


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ensure_project(client: ApiClient, settings: Settings) -> None:
    try:
        client.request("GET", f"/v1/projects/{PROJECT}")
    except ApiError:
        client.request(
            "POST",
            "/v1/projects",
            json={
                "name": PROJECT,
                "description": "Parcelpoint Assistant: customer support for parcel delivery",
                "base_model": settings.base_model,
                "gpu_memory_gb": settings.gpu_memory_gb,
            },
        )


def _import_cases(client: ApiClient) -> None:
    page = client.request("GET", f"/v1/projects/{PROJECT}/cases", params={"limit": 1}).json()
    if page["items"]:
        console.print("Cases already imported.")
        return
    cases = _jsonl(DEMO_DIR / "cases.jsonl")
    client.request("POST", f"/v1/projects/{PROJECT}/cases", json=cases)
    console.print(f"Imported {len(cases)} failure cases; the worker triages them.")


def _recommendation_when_triaged(client: ApiClient, timeout_s: float = 600) -> dict:
    """The recommendation once the worker has triaged every case (stored cases are triaged off
    the request; the recommendation is recomputed after)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.request("GET", f"/v1/projects/{PROJECT}/recommendation")
        pending = int(response.headers.get("X-Rung-Cases-Pending", "0"))
        rec = response.json()
        if (pending == 0 and rec["counts"]["total"] > 0) or time.monotonic() > deadline:
            return rec
        time.sleep(1)


def _push(client: ApiClient, content: bytes, *, name: str, kind: str) -> str:
    response = client.request(
        "POST",
        f"/v1/projects/{PROJECT}/datasets",
        params={"kind": kind, "name": name, "filename": name},
        content=content,
        headers={"Content-Type": "application/x-ndjson"},
    )
    version = response.json()["version"]
    console.print(
        f"Dataset {name}: {version['sha256'][:12]} ({version['rows_train']} train / "
        f"{version['rows_holdout']} holdout rows)"
    )
    return version["sha256"]


def _documents() -> bytes:
    rows = [
        {"id": path.stem, "text": path.read_text(), "metadata": {"source": path.name}}
        for path in sorted((DEMO_DIR / "docs").glob("*.md"))
    ]
    return "\n".join(json.dumps(row) for row in rows).encode()


def _succeeded_fix(client: ApiClient, step: dict[str, Any]) -> dict[str, Any] | None:
    """A fix of this plan step (same rung) that a previous run finished."""
    for fix in client.request("GET", f"/v1/projects/{PROJECT}/fixes").json():
        if fix["state"] == "succeeded" and fix["rung"] == step["rung"]:
            return fix
    return None


def _run_plan(client: ApiClient, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step of the plan, in its order, as a fix; returns the fixes (None: not runnable)."""
    from app.cli.fix import follow_fix, print_outcome

    done: list[dict[str, Any]] = []
    sft_job: str | None = None
    for step in plan:
        _step(f"Plan step {step['order']}: {step['title']}")
        fix = _succeeded_fix(client, step)
        if fix is not None:
            console.print(f"Already fixed by {fix['id']} in an earlier run.")
        else:
            config = dict(FIX_CONFIG.get(_recipe(step["rung"]), {}))
            if step["rung"] == "dpo" and sft_job:
                config["adapter_path"] = f"job:{sft_job}"  # DPO on top of the SFT adapter
            try:
                created = client.request(
                    "POST",
                    f"/v1/projects/{PROJECT}/fixes",
                    json={"step": step["order"], "config": config, "promote": MODEL_NAME},
                ).json()
            except ApiError as exc:  # too few usable cases, no documents: the step says why
                console.print(f"Step {step['order']} not run: {exc.detail}", markup=False)
                done.append({"step": step, "fix": None, "reason": exc.detail})
                continue
            cases = created["cases"]
            console.print(
                f"Fix {created['id']}: {len(cases['train'])} training and "
                f"{len(cases['holdout'])} held-out case(s) of {cases['total']}; "
                f"{created['recipe']} job {created['job_id']}",
                markup=False,
            )
            fix = follow_fix(client, PROJECT, created["id"])
        print_outcome(fix)
        if fix["recipe"] in SFT_RECIPES and fix["state"] == "succeeded":
            sft_job = fix["job_id"]
        done.append({"step": step, "fix": fix, "reason": fix.get("error")})
    return done


def _recipe(rung: str) -> str:
    from app.fixes.selection import RUNG_RECIPE

    return RUNG_RECIPE[rung]


def _before_after(done: list[dict[str, Any]]) -> None:
    """One line per plan step: failing held-out cases before and after, broken, the gate."""
    _step("Before / after, per plan step (held-out cases)")
    for item in done:
        step, fix = item["step"], item["fix"]
        head = f"{step['order']}. {step['rung']:<9}"
        totals = (fix or {}).get("outcome", {}).get("totals")
        if not totals:
            console.print(f"{head} not measured: {item['reason']}", markup=False)
            continue
        gate = (fix.get("outcome", {}).get("gate") or {}).get("status") or "not gated"
        console.print(
            f"{head} failing {totals['failing_under_champion']}/{totals['cases']} -> "
            f"{totals['failing_under_candidate']}/{totals['cases']}: fixed {totals['fixed']}, "
            f"still failing {totals['still_failing']}, broken {totals['broken']}; gate {gate}",
            markup=False,
        )


# What the fixes' held-out cases can decide, stated before any gate runs and kept in the
# project's policy history: "acceptable" (the step's own criterion, per case) is required and
# gated at the default margin; similarity to the expected answer is gated against drops over
# 0.10. A step holds a few held-out cases, so most gates say "undecided" (the gate needs 30
# paired cases): that is the honest answer at this size, and nothing is promoted on it.
DEMO_GATE_POLICY = {
    "metrics": {"acceptable": {"required": True}, "similarity": {"margin": 0.10}},
}
DEMO_POLICY_REASON = (
    "demo fixes: acceptable (the step's criterion) required at margin 0.01; similarity gated "
    "against drops over 0.10"
)


def _ensure_gate_policy(client: ApiClient) -> dict[str, Any]:
    policy = client.request("GET", f"/v1/projects/{PROJECT}/gate-policy").json()
    if policy["policy"] != DEMO_GATE_POLICY and (
        not policy["history"] or policy["history"][-1]["reason"] != DEMO_POLICY_REASON
    ):
        policy = client.request(
            "PUT",
            f"/v1/projects/{PROJECT}/gate-policy",
            json={"policy": DEMO_GATE_POLICY, "reason": DEMO_POLICY_REASON},
        ).json()
    return policy


def demo(
    port: int = typer.Option(None, help="port to serve on [default RUNG_PORT or 8000]"),
    train: bool = typer.Option(True, help="run the recipes and evals (--no-train: triage only)"),
    serve: bool = typer.Option(True, help="keep serving after the demo (--no-serve: exit)"),
) -> None:
    """Set up and run Rung's main job on the embedded defaults with the demo project.

    Example: rung demo            (what `make run` runs; Ctrl-C stops it)
    """
    settings = get_settings()
    if "models_dir" not in settings.model_fields_set:  # the demo keeps its model in its home
        settings.models_dir = settings.home_dir / "models"
    # The demo's own progress bars say what runs; keep the libraries' bars and notices quiet.
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    port = port or settings.port

    _step("1. Database")
    from app.core import migrations  # alembic: loaded only when the demo runs (CLI start-up)

    migrations.upgrade(settings.resolved_database_url)
    console.print(
        f"Schema at {migrations.current_revision(settings.resolved_database_url)} "
        f"({settings.resolved_database_url})"
    )

    _step("2. Base model (offline)")
    from recipes.base_models import prepare_default_model

    ready = prepare_default_model(cache_dir=settings.resolved_models_dir)
    console.print(f"SmolLM2-135M-Instruct ready at {ready}")

    _step("3. Team, server, demo project")
    key = _team_key(settings)
    (settings.home_dir / "demo.key").write_text(key + "\n")
    DemoServer(settings, port).start()
    url = f"http://{settings.host}:{port}"
    client = ApiClient(url, key, timeout=600)
    _ensure_project(client, settings)
    _import_cases(client)
    rec = _recommendation_when_triaged(client)
    console.print(f"[bold]Verdict:[/] {rec['headline']}")
    for number, step in enumerate(rec["plan"], start=1):
        console.print(f"  {number}. {step['title']} ({step['share']:.0%} of cases)")

    if train:
        _step("4. The team's documents (what the RAG step answers from)")
        _push(client, _documents(), name="docs.jsonl", kind="documents")
        policy = _ensure_gate_policy(client)
        reason = policy["history"][-1]["reason"] if policy["history"] else "built-in defaults"
        console.print(f"Gate policy: version {policy['version']} ({reason})", markup=False)
        done = _run_plan(client, rec["plan"])
        _before_after(done)

    _step("Report")
    report = settings.home_dir / "demo" / "report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(client.request("GET", f"/v1/projects/{PROJECT}/report").text)
    console.print(f"Rung is running at [bold]{url}[/] (API docs: {url}/docs)")
    console.print(f"Report: file://{report}")
    console.print(f"Your demo API key is in {settings.home_dir / 'demo.key'}. Try:")
    console.print(f"  export RUNG_URL={url} RUNG_API_KEY=$(cat {settings.home_dir / 'demo.key'})")
    console.print(f"  rung cases list {PROJECT}")
    console.print(f"  rung report {PROJECT} --out report.html")
    console.print(
        f'  curl -H "Authorization: Bearer $RUNG_API_KEY" {url}/v1/projects/{PROJECT}'
        "/recommendation"
    )
    if serve:
        console.print("Serving; Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("Stopped.")
