"""Overhead of the lora_sft recipe over a bare TRL script: same model, data and LoRA config.

Runs the same LoRA SFT twice - once through ``recipes.lora_sft.run`` and once as a plain
``SFTTrainer`` script - and prints both wall times and their ratio. Both skip holdout
evaluation so the work is the same; the recipe's extra cost is model resolution, row checks,
chat-template patching, progress callbacks and checkpoint/adapter saving.

    python bench/lora_vs_trl.py                 # SmolLM2-135M-Instruct, 10 steps
    python bench/lora_vs_trl.py --model tiny    # the tests' tiny random Llama (seconds)
    python bench/lora_vs_trl.py --steps 30 --model /path/to/model

It also runs the same job through Rung itself (dataset push + job API + in-process worker).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
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
        save_strategy="no",
        report_to="none",
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
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

    settings = Settings(env="test", home=workdir / "rung", triage_on_ingest=False)
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
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
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
        job = client.post(
            "/v1/projects/bench/jobs",
            json={"recipe": "lora_sft", "dataset": pushed.json()["version"]["sha256"],
                  "base_model": config.base_model, "config": overrides},
        ).json()
        while (state := client.get(f"/v1/projects/bench/jobs/{job['id']}").json())[
            "state"
        ] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
        if state["state"] != "succeeded":
            raise SystemExit(f"the job {state['state']}: {state.get('error')}")
        return time.perf_counter() - start
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_BASE_MODEL, help="hub name, folder or 'tiny'")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=32)
    args = parser.parse_args()
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
        run_bare_trl(config, data[:4], workdir / "warmup")  # import + first-load costs
        recipe_s = run_recipe(config, data, workdir / "recipe")
        job_s = run_through_rung(config, data, workdir)
        bare_s = run_bare_trl(config, data, workdir / "bare")
    print(f"model {args.model}, {args.steps} steps, batch 4, {args.rows} rows")
    print(f"Rung job over HTTP   : {job_s:8.2f} s  (push + queue + worker + artifacts)")
    print(f"recipes.lora_sft.run : {recipe_s:8.2f} s")
    print(f"bare TRL SFTTrainer  : {bare_s:8.2f} s")
    print(f"ratio job / bare     : {job_s / bare_s:8.2f}")
    print(f"ratio recipe / bare  : {recipe_s / bare_s:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
