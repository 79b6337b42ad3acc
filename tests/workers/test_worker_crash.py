"""A Celery worker SIGKILLed mid-training: its job resumes from its checkpoint on a second
worker (real worker processes, the machine's Redis, a SQLite file database).

Its own module so that no worker of another module (and database) shares the Redis queue.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def sft_rows(n: int) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"What is item number {i}?"},
                      {"role": "assistant", "content": f"Item {i} is a tidy answer."}]}
        for i in range(n)
    ]


def test_killed_worker_job_resumes_from_checkpoint_on_another_worker(
    make_deployment: Callable[[], Any], tiny_model: Path
) -> None:
    deployment = make_deployment()
    first = deployment.start_worker("default")
    dataset = deployment.push(sft_rows(24))
    job = deployment.submit(recipe="lora_sft", dataset=dataset, base_model=str(tiny_model),
                            config={"max_steps": 24, "logging_steps": 1, "save_steps": 4,
                                    "lora_r": 4})
    running = deployment.wait_for(job["id"], lambda j: (j["checkpoint_step"] or 0) >= 4)
    assert running["state"] == "running" and running["attempts"] == 1
    deployment.kill(first)  # SIGKILL mid-training: no chance to clean up
    assert deployment.job(job["id"])["state"] == "running", "the DB still says running"

    deployment.start_worker("default")
    done = deployment.wait_end(job["id"], timeout=240)
    assert done["state"] == "succeeded", (done, deployment.worker_logs())
    assert done["attempts"] == 2
    resumed_from = int(done["metrics"]["resumed_from_step"])
    assert resumed_from >= 4

    events = deployment.events(job["id"])
    requeued = [e for e in events if e["type"] == "state" and e["data"]["state"] == "queued"
                and "lease expired" in (e["data"].get("reason") or "")]
    assert requeued, "the reaper re-queued the dead worker's job"
    resume = [e for e in events if e["data"].get("resume_from_step")]
    assert resume and resume[0]["data"]["resume_from_step"] == resumed_from
    second_run_steps = [e["data"]["step"] for e in events if e["type"] == "progress"
                        and e["data"].get("attempt") == 2 and e["data"]["phase"] == "train"]
    assert second_run_steps and min(second_run_steps) >= resumed_from > 0
