"""Jobs through a REAL Celery worker process on the machine's Redis: success, failure with a
reason, cancel."""

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


@pytest.fixture(scope="module")
def worker(make_deployment: Callable[[], Any]) -> Any:
    """One deployment with one Celery worker, shared by the tests of this module."""
    deployment = make_deployment()
    deployment.start_worker("default")
    return deployment


@pytest.fixture(scope="module")
def dataset(worker: Any) -> str:
    return worker.push(sft_rows(24))


def test_job_succeeds_with_artifacts(worker: Any, dataset: str, tiny_model: Path) -> None:
    job = worker.submit(recipe="lora_sft", dataset=dataset, base_model=str(tiny_model),
                        config={"max_steps": 4, "logging_steps": 1, "save_steps": 2,
                                "lora_r": 4})
    assert job["queue"] == "default" and job["state"] == "queued"
    done = worker.wait_end(job["id"])
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 1
    assert done["metrics"]["global_step"] == 4
    kinds = {a["kind"] for a in worker.client.get(
        f"/v1/projects/p/jobs/{job['id']}/artifacts").json()}
    assert {"adapter", "tokenizer", "metrics"} <= kinds
    losses = [e["data"]["loss"] for e in worker.events(job["id"])
              if e["type"] == "progress" and e["data"].get("loss") is not None]
    assert losses, "progress events carry the training loss"


def test_job_fails_with_reason(worker: Any, dataset: str) -> None:
    missing = f"{worker.models_allow}/nonexistent-model"  # allowed folder, no model there
    job = worker.submit(recipe="lora_sft", dataset=dataset, base_model=missing,
                        config={"max_steps": 2})
    done = worker.wait_end(job["id"])
    assert done["state"] == "failed"
    assert done["error_type"] == "RecipeEnvironmentError"
    assert missing in done["error"]
    assert done["attempts"] == 1, "an environment error is never retried"


def test_cancel_a_running_job(worker: Any, dataset: str, tiny_model: Path) -> None:
    job = worker.submit(recipe="lora_sft", dataset=dataset, base_model=str(tiny_model),
                        config={"max_steps": 400, "logging_steps": 1, "save_steps": 100})
    worker.wait_for(job["id"], lambda j: (j["progress"] or {}).get("step", 0) >= 1)
    response = worker.client.post(f"/v1/projects/p/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    done = worker.wait_end(job["id"])
    assert done["state"] == "cancelled"
    assert done["progress"]["step"] < 400
    again = worker.client.post(f"/v1/projects/p/jobs/{job['id']}/cancel")
    assert again.status_code == 409

