"""`rung demo`: what `make run` runs. Rung on the embedded defaults with a demo project.

Steps (each one skipped when a previous run already did it, so a second run is quick):
migrate; prepare the offline SmolLM2 model; a `demo` team; serve Rung; import the Parcelpoint
failure cases; push the training data; run the recommended recipes (a short LoRA SFT, then a
short DPO on top of it, then a RAG index); evaluate the tuned model against its base on the
holdout, gate it, promote it; write the report; keep serving.
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
from app.core import migrations
from app.core.errors import NotFoundError
from app.db import session_scope
from app.teams import service as teams

console = Console()
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
PROJECT = "parcelpoint"
MODEL_NAME = "parcelpoint-assistant"
# Short on purpose: the demo trains on a laptop CPU in a few minutes.
SFT_CONFIG = {"max_steps": 24, "save_steps": 8, "eval_steps": 8, "per_device_train_batch_size": 4}
DPO_CONFIG = {"max_steps": 12, "save_steps": 6, "eval_steps": 6, "per_device_train_batch_size": 4}
RAG_CONFIG = {"max_new_tokens": 48, "eval_limit": 15}
EVAL_MAX_TOKENS = 48
# The gate decides nothing below 30 paired examples (min_examples), so the demo evaluates on
# all 34 held-out prompts: the 24 support conversations and the 10 preference-holdout prompts,
# with their preferred answers as the reference. None of them is trained on.


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


def _rag_questions() -> bytes:
    """The RAG holdout as chat rows; metadata names the document that holds each answer."""
    rows = [
        {
            "messages": [
                {"role": "user", "content": row["question"]},
                {"role": "assistant", "content": row["answer"]},
            ],
            "metadata": {"reference_doc_ids": [Path(row["reference_doc"]).stem]},
        }
        for row in _jsonl(DEMO_DIR / "rag_holdout.jsonl")
    ]
    return "\n".join(json.dumps(row) for row in rows).encode()


def _run_job(
    client: ApiClient,
    *,
    recipe: str,
    dataset: str,
    config: dict[str, Any],
    holdout: str | None = None,
) -> dict[str, Any]:
    from app.jobs.cli import follow_job

    jobs = client.request("GET", f"/v1/projects/{PROJECT}/jobs").json()
    items = jobs["items"] if isinstance(jobs, dict) else jobs
    for job in items:
        done = job["state"] == "succeeded"
        if done and job["recipe"] == recipe and job["dataset_sha256"] == dataset:
            console.print(f"{recipe}: already done ({job['id']}).")
            return job
    body = {"recipe": recipe, "dataset": dataset, "config": config}
    if holdout:
        body["holdout"] = holdout
    job = client.request("POST", f"/v1/projects/{PROJECT}/jobs", json=body).json()
    console.print(f"{recipe}: job {job['id']} queued on the in-process worker.")
    final = follow_job(client, PROJECT, job["id"])
    if final["state"] != "succeeded":
        raise typer.Exit(_die(f"{recipe} job {final['state']}: {final.get('error')}"))
    console.print(f"[green]{recipe} succeeded.[/] {final.get('summary') or ''}")
    return final


def _adapter_dir(client: ApiClient, settings: Settings, job: dict[str, Any], dest: Path) -> Path:
    from app.artifacts.store import store_for

    artifacts = client.request("GET", f"/v1/projects/{PROJECT}/jobs/{job['id']}/artifacts").json()
    adapter = next(a for a in artifacts if a["kind"] == "adapter")
    if not (dest / "adapter_config.json").exists():
        store_for(settings.resolved_artifacts_url).materialize(adapter["digest"], dest)
    return dest


def _evaluate(
    client: ApiClient, settings: Settings, adapter: Path
) -> tuple[str, str, dict[str, Any]]:
    """Serve base + adapter, evaluate both on the holdout, store both runs and gate them."""
    from app.serving.engine import GenerationEngine
    from app.serving.launch import ModelServerThread
    from evals.chat import ChatClient, GenerationParams, openai_chat_model
    from evals.dataset import load_dataset
    from evals.runner import run_eval_sync
    from evals.scorers import ScorerContext, build_scorer
    from evals.solver import ChatModelSolver
    from recipes.base_models import resolve_base_model

    runs = client.request("GET", f"/v1/projects/{PROJECT}/evals").json()
    by_name = {r["name"]: r["id"] for r in runs}
    examples, dataset_sha = _eval_examples(load_dataset)
    context = ScorerContext()
    scorers = [build_scorer(name, context=context) for name in ("rouge_l", "semantic_similarity")]
    suffix = dataset_sha[:8]  # a changed eval set gives new runs, never a mismatched pair
    needed = [n for n in ("base", "lora-dpo") if f"demo-{n}-{suffix}" not in by_name]
    if needed:
        engine = GenerationEngine.load(
            base=resolve_base_model(settings.base_model, cache_dir=settings.resolved_models_dir),
            adapters={"lora-dpo": adapter},
            base_name=settings.base_model,
        )
        with ModelServerThread(engine, default_max_tokens=EVAL_MAX_TOKENS) as server:
            for name in needed:
                model = "base" if name == "base" else name
                chat = ChatClient(
                    model=openai_chat_model(endpoint=server.base_url, model=model),
                    model_name=model,
                    endpoint=server.base_url,
                    params=GenerationParams(temperature=0.0, max_tokens=EVAL_MAX_TOKENS),
                )
                console.print(f"Evaluating {name} on {len(examples)} holdout examples...")
                result = run_eval_sync(
                    examples=examples,
                    solver=ChatModelSolver(client=chat),
                    scorers=scorers,
                    concurrency=1,
                    run_meta={"name": f"demo-{name}-{suffix}", "model": model,
                              "dataset": EVAL_SET, "dataset_sha256": dataset_sha},
                )
                created = client.request(
                    "POST",
                    f"/v1/projects/{PROJECT}/evals",
                    json={"name": f"demo-{name}-{suffix}", "candidate": model,
                          "dataset": EVAL_SET,
                          "result": result.model_dump(mode="json")},
                ).json()
                by_name[f"demo-{name}-{suffix}"] = created["id"]
    ids = {"base": by_name[f"demo-base-{suffix}"], "tuned": by_name[f"demo-lora-dpo-{suffix}"]}
    policy = _ensure_gate_policy(client)
    reason = policy["history"][-1]["reason"] if policy["history"] else "built-in defaults"
    console.print(f"Gate policy: version {policy['version']} ({reason})", markup=False)
    gate = client.request(
        "POST", f"/v1/projects/{PROJECT}/gates",
        json={"baseline": ids["base"], "candidate": ids["tuned"]},
    ).json()
    for decision in gate["report"]["decisions"]:
        ci = (f"[{decision['ci_low']:+.3f}, {decision['ci_high']:+.3f}]"
              if decision.get("ci_low") is not None else "-")
        console.print(
            f"  {decision['metric']:>20}: {decision['status']:>9}  base "
            f"{decision.get('baseline_mean') or 0:.3f} -> tuned "
            f"{decision.get('candidate_mean') or 0:.3f}  CI {ci}"
        )
        console.print(f"  {'':>20}  {decision['reason']}", markup=False)
    return ids["base"], ids["tuned"], gate


EVAL_SET = "demo/holdout.jsonl + demo/preferences_holdout.jsonl"


def _eval_examples(load_dataset: Any) -> tuple[list[Any], str]:
    """The demo's eval set (34 held-out prompts) and its sha256 (canonical JSON)."""
    import hashlib

    from evals.dataset import parse_example

    examples = list(load_dataset(DEMO_DIR / "holdout.jsonl"))
    system = next(m for m in examples[0].input if m.role == "system").content
    for row in _jsonl(DEMO_DIR / "preferences_holdout.jsonl"):
        examples.append(parse_example({
            "input": [{"role": "system", "content": system},
                      {"role": "user", "content": row["prompt"]}],
            "expected": row["chosen"],
        }))
    canonical = json.dumps([e.model_dump(mode="json") for e in examples], sort_keys=True)
    return examples, hashlib.sha256(canonical.encode()).hexdigest()


def _register(client: ApiClient, base_run: str, tuned_run: str, gate: dict[str, Any],
              adapter_digest: str) -> None:
    """Base model as version 0, the tuned adapter as the next version, promoted through the
    gate against the base model's run. Each step is skipped when a previous run did it."""
    path = f"/v1/projects/{PROJECT}/models/{MODEL_NAME}"
    try:
        model = client.request("GET", path).json()
    except ApiError:
        client.request("POST", f"/v1/projects/{PROJECT}/models", json={"name": MODEL_NAME})
        model = client.request("GET", path).json()
    by_run = {v["eval_run_id"]: v["version"] for v in model["versions"]}
    if 0 not in {v["version"] for v in model["versions"]}:
        # The base model is version 0: the baseline the first champion is gated against.
        client.request("POST", f"{path}/versions", json={
            "source": "base", "eval_run": base_run, "base": True,
            "description": "SmolLM2 base, no adapter"})
    tuned = by_run.get(tuned_run)
    if tuned is None:
        tuned = client.request("POST", f"{path}/versions", json={
            "source": f"sha256:{adapter_digest}", "eval_run": tuned_run,
            "description": "LoRA SFT + DPO adapter from the demo jobs"}).json()["version"]
    if model["aliases"].get("champion") == tuned:
        console.print(f"Version {tuned} is already the champion.")
        return
    try:
        client.request("POST", f"{path}/promote", json={
            "version": tuned, "gate": gate["id"],
            "reason": "demo: beats the base model (version 0) at the gate"})
        console.print(f"[green]Promoted version {tuned} to champion[/] through gate "
                      f"{gate['id']} against the base model's run.")
    except ApiError as exc:
        console.print(f"Not promoted, as it should be when the gate does not pass: {exc.detail}")


# What 34 held-out prompts can decide, stated before the gate runs and kept in the project's
# policy history: ROUGE-L (the wording and format the SFT data teaches) is required and gated at
# the default margin 0.01; semantic similarity moves little between two answers of the same
# 135M model and 34 examples cannot resolve it finer than about 0.1 (the gate prints that
# detectable drop), so a drop of more than 0.10 is what it is gated against.
DEMO_GATE_POLICY = {
    "metrics": {"rouge_l": {"required": True}, "semantic_similarity": {"margin": 0.10}},
}
DEMO_POLICY_REASON = (
    "demo holdout of 34 prompts: rouge_l required at margin 0.01; semantic_similarity gated "
    "against drops over 0.10, the finest this many examples can resolve"
)


def _ensure_gate_policy(client: ApiClient) -> dict[str, Any]:
    policy = client.request("GET", f"/v1/projects/{PROJECT}/gate-policy").json()
    if policy["version"] == 0:
        policy = client.request("PUT", f"/v1/projects/{PROJECT}/gate-policy", json={
            "policy": DEMO_GATE_POLICY, "reason": DEMO_POLICY_REASON}).json()
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
    migrations.upgrade(settings.resolved_database_url)
    console.print(f"Schema at {migrations.current_revision(settings.resolved_database_url)} "
                  f"({settings.resolved_database_url})")

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
        _step("4. Datasets")
        sft = _push(client, (DEMO_DIR / "sft.jsonl").read_bytes(), name="sft.jsonl", kind="sft")
        prefs = _push(client, (DEMO_DIR / "preferences.jsonl").read_bytes(),
                      name="preferences.jsonl", kind="preference")
        docs = _push(client, _documents(), name="docs.jsonl", kind="documents")
        questions = _push(client, _rag_questions(), name="rag_holdout.jsonl", kind="sft")

        _step("5. Recipes: LoRA SFT, then DPO on top, then a RAG index")
        sft_job = _run_job(client, recipe="lora_sft", dataset=sft, config=SFT_CONFIG)
        # DPO starts from the SFT job's adapter, named as a reference (the server takes no paths)
        dpo_job = _run_job(client, recipe="dpo", dataset=prefs,
                           config={**DPO_CONFIG, "adapter_path": f"job:{sft_job['id']}"})
        dpo_dir = _adapter_dir(client, settings, dpo_job, settings.home_dir / "demo" / "dpo")
        _run_job(client, recipe="rag", dataset=docs, config=RAG_CONFIG, holdout=questions)

        _step("6. Eval: tuned vs base on the holdout, gate, registry")
        base_run, tuned_run, gate = _evaluate(client, settings, dpo_dir)
        console.print(f"Gate: [bold]{gate['status']}[/]")
        artifacts = client.request(
            "GET", f"/v1/projects/{PROJECT}/jobs/{dpo_job['id']}/artifacts").json()
        digest = next(a["digest"] for a in artifacts if a["kind"] == "adapter")
        _register(client, base_run, tuned_run, gate, digest)

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
    console.print(f"  curl -H \"Authorization: Bearer $RUNG_API_KEY\" {url}/v1/projects/{PROJECT}"
                  "/recommendation")
    if serve:
        console.print("Serving; Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("Stopped.")
