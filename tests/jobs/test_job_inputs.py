"""Job inputs are references, checked per team, over real HTTP with the real in-process worker.

Team B cannot train from team A's artifact or job (404), nor from a server path outside
RUNG_MODELS_ALLOW, ``..`` or ``~`` (422, the same answer whether the path exists or not); a job
slipped past the API is refused again by the worker. Artifact records are each team's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import session_scope
from app.jobs.models import Job
from tests.jobs.test_jobs_api import sft, wait

TERMINAL = ("succeeded", "failed", "cancelled")
LORA = {"max_steps": 2, "logging_steps": 1, "save_steps": 100, "lora_r": 4, "seed": 7}


def _push(client: httpx.Client, rows: list[dict[str, Any]]) -> str:
    client.post("/v1/projects", json={"name": "bot"})
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    response = client.post("/v1/projects/bot/datasets", content=body,
                           params={"filename": "d.jsonl"},
                           headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code in (200, 201), response.text
    return response.json()["version"]["sha256"]


def _run(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/v1/projects/bot/jobs", json=body)
    assert created.status_code == 201, created.text
    job = wait(client, created.json()["id"], lambda j: j["state"] in TERMINAL)
    assert job["state"] == "succeeded", job
    return job


def _adapter(client: httpx.Client, job_id: str) -> dict[str, Any]:
    rows = client.get(f"/v1/projects/bot/jobs/{job_id}/artifacts").json()
    return next(a for a in rows if a["kind"] == "adapter")


@pytest.fixture
def team_b(live_server: Any, make_team: Any) -> Any:
    _, key = make_team()
    with httpx.Client(base_url=live_server.url, timeout=60,
                      headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def test_team_b_cannot_reach_team_a_inputs_or_server_paths(
    api: httpx.Client, team_b: httpx.Client, tiny_model: Path, settings: Any
) -> None:
    a_data = _push(api, sft(16))
    a_job = _run(api, {"recipe": "lora_sft", "dataset": a_data, "base_model": str(tiny_model),
                       "config": LORA})
    a_adapter = _adapter(api, a_job["id"])
    b_data = _push(team_b, sft(16))
    b_pref = _push(team_b, [{"prompt": f"Q{i}?", "chosen": "yes", "rejected": "no"}
                            for i in range(8)])

    # Another team's artifact or job, by id: 404 naming the field, nothing queued.
    for body in (
        {"recipe": "lora_sft", "dataset": b_data, "base_model": f"artifact:{a_adapter['id']}"},
        {"recipe": "lora_sft", "dataset": b_data, "base_model": f"job:{a_job['id']}"},
        {"recipe": "dpo", "dataset": b_pref, "base_model": str(tiny_model),
         "config": {"adapter_path": f"artifact:{a_adapter['id']}"}},
        {"recipe": "dpo", "dataset": b_pref, "base_model": str(tiny_model),
         "config": {"adapter_path": f"job:{a_job['id']}"}},
    ):
        response = team_b.post("/v1/projects/bot/jobs", json=body)
        assert response.status_code == 404, (body, response.text)
        assert response.json()["errors"][0]["field"] in ("base_model", "adapter_path")
        assert "not found in this project" in response.json()["detail"]

    # Server paths outside RUNG_MODELS_ALLOW, `..`, `~`, relative: 422, one answer whatever
    # exists (an existing folder and a missing one cannot be told apart).
    allowed = settings.models_allow_dirs[0]
    answers = {}
    for path in ("/etc", "/nonexistent-dir-xyz", "/", str(Path.home()),
                 f"{allowed}/../../etc", f"{tiny_model}/../../..", "../../etc", "~/models",
                 "./models", "/proc/self/cwd"):
        for field, body in (
            ("base_model", {"recipe": "lora_sft", "dataset": b_data, "base_model": path}),
            ("adapter_path", {"recipe": "dpo", "dataset": b_pref,
                              "base_model": str(tiny_model), "config": {"adapter_path": path}}),
        ):
            response = team_b.post("/v1/projects/bot/jobs", json=body)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["errors"][0]["field"] == field
            answers.setdefault(field, set()).add(response.text)
    assert all(len(texts) == 1 for texts in answers.values()), answers
    assert team_b.get("/v1/projects/bot/jobs").json() == []

    # B's own runs: the same bytes may be stored once, but B's record names B's job.
    b_job = _run(team_b, {"recipe": "lora_sft", "dataset": b_data,
                          "base_model": str(tiny_model), "config": LORA})
    b_adapter = _adapter(team_b, b_job["id"])
    assert b_adapter["digest"] == a_adapter["digest"], "same seed, data and model: same bytes"
    manifest = team_b.get(f"/v1/projects/bot/artifacts/{b_adapter['id']}/manifest").json()
    assert manifest["job_id"] == b_job["id"] and manifest["id"] == b_adapter["id"]
    assert a_job["id"] not in json.dumps(manifest)
    assert {f["path"] for f in manifest["files"]} >= {"adapter_config.json"}
    a_manifest = api.get(f"/v1/projects/bot/artifacts/{a_adapter['id']}/manifest").json()
    assert a_manifest["job_id"] == a_job["id"]

    # A reference to B's own job is resolved by the worker: DPO starts from B's adapter.
    dpo = _run(team_b, {"recipe": "dpo", "dataset": b_pref, "base_model": str(tiny_model),
                        "config": {"adapter_path": f"job:{b_job['id']}", "max_steps": 1}})
    assert dpo["config"]["adapter_path"] == f"job:{b_job['id']}"
    assert "SFT adapter" in (dpo["summary"] or "")


def test_the_worker_refuses_another_projects_artifact_slipped_past_the_api(
    api: httpx.Client, team_b: httpx.Client, tiny_model: Path, settings: Any
) -> None:
    a_data = _push(api, sft(16))
    a_job = _run(api, {"recipe": "lora_sft", "dataset": a_data, "base_model": str(tiny_model),
                       "config": LORA})
    a_adapter = _adapter(api, a_job["id"])
    b_pref = _push(team_b, [{"prompt": f"Q{i}?", "chosen": "yes", "rejected": "no"}
                            for i in range(8)])
    b_project = team_b.get("/v1/projects/bot").json()["id"]
    with session_scope(settings.resolved_database_url) as session:  # as if the API had a bug
        job = Job(project_id=b_project, recipe="dpo", dataset_sha256=b_pref,
                  overrides={"base_model": str(tiny_model), "max_steps": 1,
                             "adapter_path": f"artifact:{a_adapter['id']}"},
                  config={}, queue="default")
        session.add(job)
        session.flush()
        job_id = job.id
    done = wait(team_b, job_id, lambda j: j["state"] in TERMINAL)
    assert done["state"] == "failed" and done["error_type"] == "RecipeConfigError", done
    assert "not found in this project" in done["error"]
    assert team_b.get(f"/v1/projects/bot/jobs/{job_id}/artifacts").json() == []
