"""Overhead of a LoRA job over a bare TRL script with the same config: same model, data, LoRA
shape and trainer settings (steps, batch, length, learning rate, gradient checkpointing as the
recipe's default, one checkpoint saved at the end).

Three ways, interleaved (the order rotates every repetition), ``--reps`` times (3), medians,
each on a fresh thread as the job's worker runs it:

* the job through Rung itself: dataset push + job API + in-process worker + stored artifacts,
  timed from the push to the job's success as a client sees it;
* ``recipes.lora_sft.run`` called directly;
* a plain ``SFTTrainer`` script, what a user would write by hand.

Both Rung paths skip holdout evaluation (no eval rows), so the work is the same; their extra
cost is the upload and its checks, model resolution, row checks, chat-template patching,
progress events, storing the checkpoint and adapter, and the client's polling.

    python bench/lora_vs_trl.py                 # SmolLM2-135M-Instruct, 10 steps
    python bench/lora_vs_trl.py --model tiny    # the tests' tiny random Llama (seconds)
    python bench/lora_vs_trl.py --steps 30 --model /path/to/model
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recipes import lora_sft
from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model
from recipes.lora_adapters import lora_config
from recipes.lora_sft import LoraSFTConfig


def rows(n: int) -> list[dict]:
    return [
        {
            "messages": [
                {
                    "role": "user",
                    "content": f"Order {i}: where is my parcel? It was due on Monday.",
                },
                {
                    "role": "assistant",
                    "content": f"Sorry for the wait. Parcel {i} left our depot "
                    "today and should reach you within two working days.",
                },
            ]
        }
        for i in range(n)
    ]


def model_path(name: str, workdir: Path) -> str:
    if name == "tiny":
        from tests.tiny_llama import make_tiny_llama

        return str(make_tiny_llama(workdir / "tiny"))
    return str(resolve_base_model(name))


def run_recipe(config: LoraSFTConfig, data: list[dict], out: Path) -> float:
    start = time.perf_counter()
    lora_sft.run(config, train_rows=data, eval_rows=[], output_dir=out)
    return time.perf_counter() - start


def run_bare_trl(config: LoraSFTConfig, data: list[dict], out: Path) -> float:
    """What a user would write by hand with TRL (full-sequence loss: TRL cannot patch every
    chat template for assistant-only loss; the compute is the same)."""
    start = time.perf_counter()
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(out),
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size,
        max_length=config.max_length,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        report_to="none",
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=config.gradient_checkpointing,
        disable_tqdm=True,
        packing=False,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
        peft_config=lora_config(config, model),
    )
    trainer.train()
    trainer.model.save_pretrained(out / "adapter")
    return time.perf_counter() - start


def run_through_rung(config: LoraSFTConfig, data: list[dict], workdir: Path) -> float:
    """The same LoRA job sent to a real Rung (uvicorn, SQLite, in-process worker) over HTTP:
    push the dataset, submit the job, wait until it succeeds. Timed from push to success."""
    import json
    import threading

    import httpx
    import uvicorn

    from app.config import Settings
    from app.core import migrations
    from app.db import session_scope
    from app.main import create_app
    from app.teams import service as teams

    allow = str(Path(config.base_model).parent) if Path(config.base_model).is_absolute() else ""
    settings = Settings(
        env="test", home=workdir / "rung", triage_on_ingest=False, models_allow=allow
    )  # jobs name a model folder only inside it
    migrations.upgrade(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        _, key = teams.create_team(session, name="bench")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=600,
    )
    try:
        client.post("/v1/projects", json={"name": "bench"}).raise_for_status()
        start = time.perf_counter()
        body = "\n".join(json.dumps(row) for row in data).encode()
        pushed = client.post(
            "/v1/projects/bench/datasets",
            params={"kind": "sft", "filename": "bench.jsonl"},
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
        )
        pushed.raise_for_status()
        overrides = {
            "max_steps": config.max_steps,
            "max_length": config.max_length,
            "per_device_train_batch_size": config.per_device_train_batch_size,
            "logging_steps": config.logging_steps,
            "save_steps": config.save_steps,
        }
        submitted = client.post(
            "/v1/projects/bench/jobs",
            json={
                "recipe": "lora_sft",
                "dataset": pushed.json()["version"]["sha256"],
                "base_model": config.base_model,
                "config": overrides,
            },
        )
        if submitted.status_code != 201:
            raise SystemExit(f"the job was refused: {submitted.text}")
        job = submitted.json()
        while (state := client.get(f"/v1/projects/bench/jobs/{job['id']}").json())["state"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            time.sleep(0.2)
        if state["state"] != "succeeded":
            raise SystemExit(f"the job {state['state']}: {state.get('error')}")
        total = time.perf_counter() - start
        events = client.get(
            f"/v1/projects/bench/jobs/{job['id']}/events/list", params={"limit": 1000}
        ).json()
        print(f"    job phases: {_phases(state, events, total)}", flush=True)
        return total
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _on_a_thread(run: Callable[[Path], float], out: Path) -> float:
    """``run(out)`` on a fresh thread, as the job's worker runs its recipe: torch on the main
    thread of a loaded machine waits on its OpenMP team (measured here up to 45x slower for the
    same ops), which would time the threading, not the job."""
    import threading

    result: list[float] = []
    thread = threading.Thread(target=lambda: result.append(run(out)))
    thread.start()
    thread.join()
    if not result:
        raise SystemExit(f"{out.name} failed (see above)")
    return result[0]


def _phases(job: dict, events: list[dict], total: float) -> str:
    """Where the job's time went, from its stored events' times (server clock)."""
    from datetime import datetime

    def at(value: str) -> float:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

    def first(match: Callable[[dict], bool]) -> float | None:
        return next((at(e["created_at"]) for e in events if match(e)), None)

    queued = first(lambda e: e["data"].get("state") == "queued")
    running = first(lambda e: e["data"].get("state") == "running")
    train = first(lambda e: e["data"].get("phase") == "train")
    done = first(lambda e: e["data"].get("phase") == "done")
    ended = first(lambda e: e["data"].get("state") == "succeeded")
    if None in (queued, running, train, done, ended):
        return "(events incomplete)"
    spans = {
        "push, submit, last poll": total - (ended - queued),
        "queued": running - queued,
        "load": train - running,
        "train+save": done - train,
        "store artifacts": ended - done,
    }
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in spans.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_BASE_MODEL, help="hub name, folder or 'tiny'")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"job": [], "recipe": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = model_path(args.model, workdir)
        config = LoraSFTConfig(
            base_model=path,
            max_steps=args.steps,
            max_length=256,
            per_device_train_batch_size=4,
            logging_steps=5,
            save_steps=max(args.steps, 1),
        )
        data = rows(args.rows)
        # import + first-load costs
        _on_a_thread(lambda out: run_bare_trl(config, data[:4], out), workdir / "warmup")
        ways: list[tuple[str, Callable[[Path], float]]] = [
            ("job", lambda out: run_through_rung(config, data, out)),
            ("recipe", lambda out: run_recipe(config, data, out)),
            ("bare", lambda out: run_bare_trl(config, data, out)),
        ]
        for rep in range(args.reps):
            for name, run in ways[rep % 3 :] + ways[: rep % 3]:  # rotate the order
                timings[name].append(_on_a_thread(run, workdir / f"{name}-{rep}"))
                print(f"rep {rep + 1} {name:6s} {timings[name][-1]:7.2f} s", flush=True)
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(
        f"model {args.model}, {args.steps} steps, batch 4, {args.rows} rows, "
        f"gradient checkpointing {config.gradient_checkpointing}, {args.reps} interleaved reps"
    )
    for name, label in (
        ("job", "Rung job over HTTP   "),
        ("recipe", "recipes.lora_sft.run "),
        ("bare", "bare TRL SFTTrainer  "),
    ):
        runs = " / ".join(f"{v:.2f}" for v in timings[name])
        print(f"{label}: median {median[name]:8.2f} s  ({runs})")
    print(f"ratio job / bare     : {median['job'] / median['bare']:8.2f}")
    print(f"ratio recipe / bare  : {median['recipe'] / median['bare']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
