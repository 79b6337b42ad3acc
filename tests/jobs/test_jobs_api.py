"""Jobs over HTTP with the in-process worker of `rung serve` (no broker), on SQLite and
PostgreSQL: checks before queueing, a real LoRA run on a tiny model, SSE with Last-Event-ID,
logs, artifacts (a folder as tar), cancel, the gpu queue."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.jobs.cli import iter_sse

TERMINAL = ("succeeded", "failed", "cancelled")


def push(api: httpx.Client, rows: list[dict[str, Any]]) -> str:
    api.post("/v1/projects", json={"name": "bot"})
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    response = api.post("/v1/projects/bot/datasets", content=body,
                        params={"filename": "d.jsonl"},
                        headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code in (200, 201), response.text
    return response.json()["version"]["sha256"]


def sft(n: int) -> list[dict[str, Any]]:
    return [{"prompt": f"Is order {i} shipped?", "completion": f"Yes, order {i} shipped."}
            for i in range(n)]


def wait(api: httpx.Client, job_id: str, until: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/projects/bot/jobs/{job_id}").json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job stuck: {job}"
        time.sleep(0.1)


def test_config_is_checked_before_anything_is_queued(api: httpx.Client) -> None:
    dataset = push(api, sft(12))
    unknown = api.post("/v1/projects/bot/jobs", json={
        "recipe": "lora_sft", "dataset": dataset, "config": {"lora_rank": 8}})
    assert unknown.status_code == 422
    body = unknown.json()
    assert "'lora_rank'" in body["detail"] and "lora_r" in body["detail"]
    assert body["errors"][0]["field"] == "config.lora_rank"
    assert "lora_alpha" in body["errors"][0]["valid_keys"]

    bad_value = api.post("/v1/projects/bot/jobs", json={
        "recipe": "lora_sft", "dataset": dataset, "config": {"lora_r": 0}})
    assert bad_value.status_code == 422 and "lora_r" in bad_value.json()["detail"]
    no_recipe = api.post("/v1/projects/bot/jobs", json={"recipe": "magic", "dataset": dataset})
    assert no_recipe.status_code == 422 and "lora_sft" in no_recipe.json()["detail"]
    wrong_kind = api.post("/v1/projects/bot/jobs", json={"recipe": "dpo", "dataset": dataset})
    assert wrong_kind.status_code == 422 and "preference" in wrong_kind.json()["detail"]
    no_data = api.post("/v1/projects/bot/jobs", json={"recipe": "lora_sft",
                                                      "dataset": "0123456789abcdef"})
    assert no_data.status_code == 404
    assert api.get("/v1/projects/bot/jobs").json() == [], "nothing was queued"


def test_gpu_recipe_goes_to_the_gpu_queue_and_a_queued_job_cancels_at_once(
    api: httpx.Client,
) -> None:
    dataset = push(api, sft(12))
    job = api.post("/v1/projects/bot/jobs", json={"recipe": "qlora_sft", "dataset": dataset})
    assert job.status_code == 201, job.text
    assert job.json()["queue"] == "gpu"
    time.sleep(1)  # the in-process worker (no GPU here) polls only the default queue
    assert api.get(f"/v1/projects/bot/jobs/{job.json()['id']}").json()["state"] == "queued"
    cancelled = api.post(f"/v1/projects/bot/jobs/{job.json()['id']}/cancel").json()
    assert cancelled["state"] == "cancelled" and cancelled["attempts"] == 0


def test_a_job_asking_for_several_processes_waits_for_a_worker_that_has_them(
    api: httpx.Client,
) -> None:
    dataset = push(api, sft(12))
    job = api.post("/v1/projects/bot/jobs", json={
        "recipe": "qlora_sft", "dataset": dataset, "resources": {"processes": 4}})
    assert job.status_code == 201, job.text
    assert job.json()["queue"] == "gpu-4", "only a worker owning 4 GPUs takes it"
    assert job.json()["resources"] == {"processes": 4}
    assert job.json()["overrides"] == {}
    one = api.post("/v1/projects/bot/jobs", json={"recipe": "lora_sft", "dataset": dataset})
    assert one.json()["resources"] == {"processes": 1} and one.json()["queue"] == "default"
    api.post(f"/v1/projects/bot/jobs/{one.json()['id']}/cancel")
    prompt = api.post("/v1/projects/bot/jobs", json={
        "recipe": "prompting", "dataset": dataset, "resources": {"processes": 2}})
    assert prompt.status_code == 422
    assert prompt.json()["errors"][0]["field"] == "resources.processes"
    zero = api.post("/v1/projects/bot/jobs", json={
        "recipe": "lora_sft", "dataset": dataset, "resources": {"processes": 0}})
    assert zero.status_code == 422


def test_a_lora_job_runs_in_process_with_events_logs_and_artifacts(
    api: httpx.Client, tiny_model: Path
) -> None:
    dataset = push(api, sft(24))
    created = api.post("/v1/projects/bot/jobs", json={
        "recipe": "lora_sft", "dataset": dataset, "base_model": str(tiny_model),
        "config": {"max_steps": 6, "logging_steps": 1, "save_steps": 3, "lora_r": 4}})
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    # committed before the 201, so the in-process worker may already have claimed it
    assert created.json()["config"]["lora_r"] == 4
    assert created.json()["state"] in {"queued", "running"}

    with api.stream("GET", f"/v1/projects/bot/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(iter_sse(response))
    assert events[-1]["event"] == "end" and events[-1]["data"]["state"] == "succeeded"
    ids = [int(e["id"]) for e in events if "id" in e]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    train = [e["data"] for e in events if e["event"] == "progress"
             and e["data"]["phase"] == "train" and e["data"].get("loss") is not None]
    assert train and all(d["total_steps"] == 6 for d in train)
    assert any(d["eta_s"] is not None for d in train)
    assert any(e["event"] == "progress" and e["data"]["phase"] == "eval"
               and "eval_loss" in e["data"]["metrics"] for e in events)
    assert any(e["event"] == "checkpoint" for e in events)

    middle = ids[len(ids) // 2]
    with api.stream("GET", f"/v1/projects/bot/jobs/{job_id}/events",
                    headers={"Last-Event-ID": str(middle)}) as response:
        resumed = list(iter_sse(response))
    # the worker may store its last event after the first stream closed on the terminal state:
    # the resumed stream must be exactly the stored events after `middle`, read again now
    with api.stream("GET", f"/v1/projects/bot/jobs/{job_id}/events") as response:
        stored = [int(e["id"]) for e in iter_sse(response) if "id" in e]
    assert stored[: len(ids)] == ids
    assert [int(e["id"]) for e in resumed if "id" in e] == [i for i in stored if i > middle]
    # ?after wins over the header; a header that is not a number replays from the start;
    # a negative ?after is a 422 naming the parameter
    url = f"/v1/projects/bot/jobs/{job_id}/events"
    with api.stream("GET", url, params={"after": middle},
                    headers={"Last-Event-ID": str(stored[-1])}) as response:
        assert [int(e["id"]) for e in iter_sse(response) if "id" in e] == [
            i for i in stored if i > middle]
    with api.stream("GET", url, headers={"Last-Event-ID": "garbage"}) as response:
        assert [int(e["id"]) for e in iter_sse(response) if "id" in e] == stored
    refused = api.get(url, params={"after": -1})
    assert refused.status_code == 422 and "after" in refused.text

    job = api.get(f"/v1/projects/bot/jobs/{job_id}").json()
    assert job["state"] == "succeeded" and job["attempts"] == 1
    assert job["metrics"]["global_step"] == 6 and "lora_sft" in job["summary"]
    logs = api.get(f"/v1/projects/bot/jobs/{job_id}/logs").text
    assert "[state] running attempt 1" in logs and "[state] succeeded" in logs
    assert "[train] step 6/6 loss" in logs

    artifacts = {a["kind"]: a for a in api.get(f"/v1/projects/bot/jobs/{job_id}/artifacts").json()}
    assert {"adapter", "tokenizer", "checkpoint", "metrics"} <= set(artifacts)
    adapter = api.get(f"/v1/projects/bot/jobs/{job_id}/artifacts/{artifacts['adapter']['id']}"
                      "/download")
    assert adapter.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(adapter.content)) as archive:
        names = {Path(m.name).name for m in archive.getmembers()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= names
    metrics = api.get(f"/v1/projects/bot/artifacts/{artifacts['metrics']['id']}/download")
    assert json.loads(metrics.content)["metrics"]["global_step"] == 6
    manifest = api.get(f"/v1/projects/bot/artifacts/{artifacts['adapter']['id']}/manifest").json()
    assert manifest["job_id"] == job_id and manifest["type"] == "directory"


def test_cancel_a_running_in_process_job(api: httpx.Client, tiny_model: Path) -> None:
    dataset = push(api, sft(24))
    job_id = api.post("/v1/projects/bot/jobs", json={
        "recipe": "lora_sft", "dataset": dataset, "base_model": str(tiny_model),
        "config": {"max_steps": 500, "logging_steps": 1, "save_steps": 250}}).json()["id"]
    wait(api, job_id, lambda j: (j["progress"] or {}).get("step", 0) >= 1)
    assert api.post(f"/v1/projects/bot/jobs/{job_id}/cancel").json()["cancel_requested"]
    done = wait(api, job_id, lambda j: j["state"] in TERMINAL)
    assert done["state"] == "cancelled" and done["progress"]["step"] < 500
    listed = api.get("/v1/projects/bot/jobs", params={"state": "cancelled"}).json()
    assert [j["id"] for j in listed] == [job_id]


def test_cancel_a_two_process_job_stops_every_process(
    api: httpx.Client, tiny_model: Path
) -> None:
    dataset = push(api, sft(24))
    job_id = api.post("/v1/projects/bot/jobs", json={
        "recipe": "lora_sft", "dataset": dataset, "base_model": str(tiny_model),
        "resources": {"processes": 2},
        "config": {"max_steps": 2000, "logging_steps": 1, "save_steps": 1000}}).json()["id"]
    wait(api, job_id, lambda j: (j["progress"] or {}).get("step", 0) >= 2, timeout=300)
    assert api.post(f"/v1/projects/bot/jobs/{job_id}/cancel").json()["cancel_requested"]
    done = wait(api, job_id, lambda j: j["state"] in TERMINAL, timeout=120)
    assert done["state"] == "cancelled" and done["progress"]["step"] < 2000
    logs = api.get(f"/v1/projects/bot/jobs/{job_id}/logs").text
    assert "launching lora_sft on 2 CPU processes" in logs
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _training(job_id):
        time.sleep(0.2)
    assert _training(job_id) == [], "both ranks stopped at the same step and exited"


def _training(job_id: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"jobs/{job_id}/launch" in text:
            found.append(text)
    return found
