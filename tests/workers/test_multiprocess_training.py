"""A LoRA SFT job with ``resources: {processes: 2}``: the Celery worker launches the recipe with
`accelerate launch` (2 CPU processes, DDP over gloo); the worker is SIGKILLed mid-training (its
training processes die with it), a second worker resumes the job from its stored checkpoint, and
the adapter it produces loads and has the shape of a single-process run's.

Its own module so that no worker of another module (and database) shares the Redis queue.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workers.test_worker_crash import sft_rows

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LORA = {"logging_steps": 1, "save_steps": 4, "lora_r": 4, "seed": 3}


def _launched(job_id: str) -> list[str]:
    """Command lines of live processes training this job."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"jobs/{job_id}/launch" in text:
            found.append(text)
    return found


def _adapter_shapes(folder: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(folder / "adapter_model.safetensors"), framework="pt") as handle:
        return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118


def test_two_process_lora_job_resumes_after_the_worker_is_killed(
    make_deployment: Callable[[], Any], tiny_model: Path, tmp_path: Path
) -> None:
    deployment = make_deployment()
    first = deployment.start_worker("default")
    dataset = deployment.push(sft_rows(24))
    job = deployment.submit(
        recipe="lora_sft",
        dataset=dataset,
        base_model=str(tiny_model),
        config={**LORA, "max_steps": 16},
        resources={"processes": 2},
    )
    assert job["resources"] == {"processes": 2} and job["queue"] == "default"
    assert "_resources" not in job["overrides"]
    running = deployment.wait_for(
        job["id"], lambda j: (j["checkpoint_step"] or 0) >= 4, timeout=300
    )
    assert running["state"] == "running" and running["attempts"] == 1
    assert len(_launched(job["id"])) >= 3, "accelerate launch and its 2 training processes"
    deployment.kill(first)  # SIGKILL mid-training: no chance to clean up
    deadline = time.monotonic() + 15
    while _launched(job["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _launched(job["id"]) == [], "the training processes died with their worker"

    deployment.start_worker("default")
    done = deployment.wait_end(job["id"], timeout=400)
    assert done["state"] == "succeeded", (done, deployment.worker_logs())
    # 2 attempts; one more when a heavily loaded machine lets the new worker's 4 s lease lapse
    # (that attempt stops at once, writes nothing, and the next resumes: the same path)
    assert done["attempts"] >= 2
    assert done["metrics"]["global_step"] == 16
    assert int(done["metrics"]["resumed_from_step"]) >= 4
    events = deployment.events(job["id"])
    launches = [
        e["data"]["message"]
        for e in events
        if e["type"] == "log"
        and "launching lora_sft on 2 CPU processes" in e["data"].get("message", "")
    ]
    assert len(launches) >= 2, "the killed attempt and the one that finished ran in 2 processes"

    artifacts = {
        a["kind"]: a
        for a in deployment.client.get(f"/v1/projects/p/jobs/{job['id']}/artifacts").json()
    }
    tar = deployment.client.get(
        f"/v1/projects/p/jobs/{job['id']}/artifacts/{artifacts['adapter']['id']}/download"
    )
    adapter = tmp_path / "adapter"
    with tarfile.open(fileobj=io.BytesIO(tar.content)) as archive:
        archive.extractall(adapter, filter="data")
    folder = next(p.parent for p in adapter.rglob("adapter_config.json"))

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from recipes import lora_sft

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), folder)
    assert any("lora_A" in name for name, _ in model.named_parameters())
    single = lora_sft.run(
        lora_sft.LoraSFTConfig.from_overrides(
            {**LORA, "base_model": str(tiny_model), "max_steps": 1}
        ),
        train_rows=sft_rows(8),
        eval_rows=[],
        output_dir=tmp_path / "single",
    )
    assert _adapter_shapes(folder) == _adapter_shapes(single.artifact("adapter"))
