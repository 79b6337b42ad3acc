"""Datasets built from a plan step's cases, over real HTTP (jobs stay queued: no worker here).

Each kind: SFT rows (the context in the prompt), DPO pairs (chosen = expected, rejected =
output), prompting validators inferred from the expected answers, RAG questions against pushed
documents (none pushed: 422); the provenance names the cases and the triage engine version; the
held-out cases are never in a training set; too few usable cases is a 422 with the counts.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.config import Settings

from .conftest import (
    add_cases,
    format_cases,
    grounding_cases,
    knowledge_cases,
    plan_steps,
    preference_cases,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No in-process worker: a fix's job stays queued, so only the data is looked at."""
    return settings.model_copy(update={"embedded_worker": False})


def rows(api: httpx.Client, project: str, sha: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/projects/{project}/datasets/{sha}/rows")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def provenance(api: httpx.Client, project: str, sha: str) -> dict[str, Any]:
    return api.get(f"/v1/projects/{project}/datasets/{sha}").json()["report"]["provenance"]


def check_split(
    api: httpx.Client, project: str, fix: dict[str, Any], version: str, engine_version: str
) -> list[dict[str, Any]]:
    sha = fix["datasets"][version]["sha256"]
    data = rows(api, project, sha)
    train_ids = {r["metadata"]["case_id"] for r in data if r["split"] == "train"}
    held_ids = {r["metadata"]["case_id"] for r in data if r["split"] == "holdout"}
    assert train_ids == set(fix["cases"]["train"])
    assert held_ids == set(fix["cases"]["holdout"])
    assert held_ids and not train_ids & held_ids, "a held-out case is in the training set"
    prov = provenance(api, project, sha)
    assert prov["triage_engine_version"] == engine_version
    assert set(prov["train_case_ids"]) == train_ids
    assert set(prov["holdout_case_ids"]) == held_ids
    return data


def test_each_kind_of_step_builds_its_data_from_the_cases(
    api: httpx.Client, settings: Settings, engine_version: str
) -> None:
    ids = add_cases(
        api,
        settings,
        engine_version,
        "bot",
        format_cases(8) + grounding_cases(7) + preference_cases(7) + knowledge_cases(4),
    )
    steps = plan_steps(api, "bot")
    assert set(steps) == {"prompting", "rag", "lora", "dpo"}

    # behaviour, prompting tried -> LoRA SFT rows whose prompt carries the context
    lora = api.post(
        "/v1/projects/bot/fixes", json={"step": steps["lora"], "config": {"max_steps": 1}}
    )
    assert lora.status_code == 201, lora.text
    fix = lora.json()
    assert fix["state"] == "training" and fix["recipe"] == "lora_sft" and fix["job_id"]
    assert fix["subcategories"] == ["grounding"] and fix["cases"]["total"] == 7
    assert set(fix["cases"]["train"]) | set(fix["cases"]["holdout"]) == set(ids[8:15])
    data = check_split(api, "bot", fix, "train", engine_version)
    for row in data:
        user, assistant = row["messages"][0]["content"], row["messages"][-1]["content"]
        assert user.startswith("Context:\n- Locker") and "Question: Can I send" in user
        assert assistant.startswith("No: locker")
    job = api.get(f"/v1/projects/bot/jobs/{fix['job_id']}").json()
    assert (
        job["recipe"] == "lora_sft" and job["dataset_sha256"] == fix["datasets"]["train"]["sha256"]
    )

    # the same cases again: the same content, hence the same dataset version
    again = api.post("/v1/projects/bot/fixes", json={"rung": "lora_sft"}).json()
    assert again["datasets"]["train"]["sha256"] == fix["datasets"]["train"]["sha256"]
    assert again["step"] == steps["lora"]

    # preference -> DPO pairs
    dpo = api.post("/v1/projects/bot/fixes", json={"step": steps["dpo"]})
    assert dpo.status_code == 201, dpo.text
    pairs = check_split(api, "bot", dpo.json(), "train", engine_version)
    for pair in pairs:
        assert pair["chosen"][0]["content"].startswith("Your parcel")
        assert pair["rejected"][0]["content"].startswith("PARCEL")

    # format -> prompting validators inferred from the expected answers + few-shot examples
    prompting = api.post("/v1/projects/bot/fixes", json={"step": steps["prompting"]})
    assert prompting.status_code == 201, prompting.text
    pfix = prompting.json()
    check_split(api, "bot", pfix, "train", engine_version)
    schema = pfix["config"]["json_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["eta_days", "parcel", "status"]
    assert schema["properties"]["eta_days"] == {"type": "integer"}
    assert 0 < pfix["config"]["min_chars"] < pfix["config"]["max_chars"]
    pjob = api.get(f"/v1/projects/bot/jobs/{pfix['job_id']}").json()
    assert pjob["recipe"] == "prompting" and pjob["config"]["json_schema"] == schema
    assert pjob["config"]["eval_limit"] == len(pfix["cases"]["holdout"])

    # knowledge -> RAG; without documents the step says so and stops
    no_docs = api.post("/v1/projects/bot/fixes", json={"step": steps["rag"]})
    assert no_docs.status_code == 422
    assert "no documents" in no_docs.json()["errors"][0]["message"]
    assert "push" in no_docs.json()["detail"]
    doc = json.dumps({"id": "insurance", "text": "Insurance level 1 covers 200 euros."})
    pushed = api.post(
        "/v1/projects/bot/datasets",
        content=doc.encode() + b"\n",
        params={"filename": "docs.jsonl", "kind": "documents"},
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert pushed.status_code == 201, pushed.text
    rag = api.post("/v1/projects/bot/fixes", json={"step": steps["rag"]})
    assert rag.status_code == 201, rag.text
    rfix = rag.json()
    assert rfix["datasets"]["documents"]["sha256"] == pushed.json()["version"]["sha256"]
    questions = rows(api, "bot", rfix["datasets"]["holdout"]["sha256"])
    assert {q["metadata"]["case_id"] for q in questions} == set(ids[22:26])
    assert rfix["cases"]["train"] == [], "RAG trains nothing"
    rjob = api.get(f"/v1/projects/bot/jobs/{rfix['job_id']}").json()
    assert rjob["holdout_sha256"] == rfix["datasets"]["holdout"]["sha256"]


def test_too_few_usable_cases_is_a_422_with_the_counts(
    api: httpx.Client, settings: Settings, engine_version: str
) -> None:
    add_cases(
        api,
        settings,
        engine_version,
        "thin",
        grounding_cases(2) + grounding_cases(3, with_expected=False),
    )
    response = api.post("/v1/projects/thin/fixes", json={"rung": "lora_sft"})
    assert response.status_code == 422, response.text
    body = response.json()
    error = body["errors"][0]
    assert (error["usable"], error["needed"], error["cases"], error["without_expected"]) == (
        2,
        3,
        5,
        3,
    )
    assert "2 usable case(s) of 5" in body["detail"]
    assert "needs at least 3" in body["detail"]
    assert "3 of the step's cases have no `expected`" in body["detail"]
    assert api.get("/v1/projects/thin/fixes").json() == []
    assert api.get("/v1/projects/thin/jobs").json() == [], "nothing was queued"
    assert api.get("/v1/projects/thin/datasets").json() == [], "nothing was stored"

    missing = api.post("/v1/projects/thin/fixes", json={"step": 9})
    assert missing.status_code == 422 and "no step 9" in missing.json()["detail"]
    both = api.post("/v1/projects/thin/fixes", json={"step": 1, "rung": "dpo"})
    assert both.status_code == 422


def test_another_teams_fix_is_a_404_and_the_post_is_idempotent(
    api: httpx.Client,
    live_server: Any,
    make_team: Any,
    settings: Settings,
    engine_version: str,
) -> None:
    add_cases(api, settings, engine_version, "bot", grounding_cases(6))
    key = {"Idempotency-Key": "fix-once"}
    first = api.post("/v1/projects/bot/fixes", json={"rung": "lora"}, headers=key)
    assert first.status_code == 201, first.text
    replay = api.post("/v1/projects/bot/fixes", json={"rung": "lora"}, headers=key)
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert len(api.get("/v1/projects/bot/fixes").json()) == 1
    fix_id = first.json()["id"]

    _, other_key = make_team()
    with httpx.Client(
        base_url=live_server.url, timeout=30, headers={"Authorization": f"Bearer {other_key}"}
    ) as other:
        other.post("/v1/projects", json={"name": "bot"})
        assert other.get(f"/v1/projects/bot/fixes/{fix_id}").status_code == 404
        assert other.post(f"/v1/projects/bot/fixes/{fix_id}/cancel").status_code == 404
        assert other.get(f"/v1/projects/bot/fixes/{fix_id}/events").status_code == 404
        assert other.get("/v1/projects/bot/fixes").json() == []

    cancelled = api.post(f"/v1/projects/bot/fixes/{fix_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    job = api.get(f"/v1/projects/bot/jobs/{first.json()['job_id']}").json()
    assert job["state"] == "cancelled"
    assert api.post(f"/v1/projects/bot/fixes/{fix_id}/cancel").status_code == 409
    log = api.get(f"/v1/projects/bot/fixes/{fix_id}/log").json()
    assert [e["data"]["state"] for e in log] == ["built", "training", "cancelled"]


def test_rung_fix_cli_queues_a_step_and_shows_a_422_with_the_counts(
    api: httpx.Client, live_server: Any, settings: Settings, engine_version: str
) -> None:
    import os
    import subprocess
    import sys

    add_cases(api, settings, engine_version, "bot", grounding_cases(6) + preference_cases(2))
    env = {
        **os.environ,
        "RUNG_URL": live_server.url,
        "COLUMNS": "200",
        "HF_HUB_OFFLINE": "1",
        "RUNG_API_KEY": api.headers["Authorization"].removeprefix("Bearer "),
    }

    def rung(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    queued = rung("fix", "bot", "--rung", "lora_sft", "--set", "max_steps=2")
    assert queued.returncode == 0, queued.stderr
    fix = api.get("/v1/projects/bot/fixes").json()[0]
    assert fix["id"] in queued.stdout and fix["config"]["max_steps"] == "2"
    assert f"{len(fix['cases']['holdout'])} held-out case(s)" in queued.stdout

    refused = rung("fix", "bot", "--rung", "dpo")
    assert refused.returncode == 1
    assert "422" in refused.stderr and "needs at least 3" in refused.stderr
    assert "usable=2" in refused.stderr and "needed=3" in refused.stderr
    assert rung("fix", "bot").returncode == 2, "--step or --rung is required"
