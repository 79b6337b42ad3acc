"""Promotion sits behind the gate; rollback restores the previous champion; history is kept."""

from __future__ import annotations

import httpx
import numpy as np


def _result(scores: list[float], name: str) -> dict:
    return {
        "run": {"name": name, "model": name},
        "examples": [
            {"id": f"ex{i}", "scores": {"exact_match": s}, "output": f"answer {i}"}
            for i, s in enumerate(scores)
        ],
    }


def _run(api: httpx.Client, scores: list[float], name: str) -> str:
    response = api.post(
        "/v1/projects/bot/evals", json={"name": name, "candidate": name,
                                        "result": _result(scores, name)}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _version(api: httpx.Client, run_id: str | None, source: str) -> int:
    body = {"source": source, **({"eval_run": run_id} if run_id else {})}
    response = api.post("/v1/projects/bot/models/support/versions", json=body)
    assert response.status_code == 201, response.text
    return response.json()["version"]


def _gate(api: httpx.Client, baseline: str, candidate: str) -> dict:
    response = api.post(
        "/v1/projects/bot/gates", json={"baseline": baseline, "candidate": candidate}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_gate_promotion_rollback_and_history(api) -> None:
    rng = np.random.default_rng(0)
    base_scores = (rng.random(60) < 0.6).astype(float).tolist()
    better = [1.0 if (s == 1.0 or i % 3 == 0) else 0.0 for i, s in enumerate(base_scores)]
    worse = [0.0 if (s == 1.0 and i % 2 == 0) else s for i, s in enumerate(base_scores)]
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    assert api.post("/v1/projects/bot/models", json={"name": "support"}).status_code == 201

    base_run = _run(api, base_scores, "base")
    v1 = _version(api, base_run, "sha256:base")
    # the first champion is gated against itself-as-baseline: no regression, so it passes
    first_gate = _gate(api, base_run, base_run)
    assert first_gate["status"] == "pass"
    promoted = api.post(
        "/v1/projects/bot/models/support/promote",
        json={"version": v1, "gate": first_gate["id"], "reason": "initial champion"},
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["aliases"]["champion"] == v1

    # an ungated version is refused
    ungated = _version(api, None, "sha256:nogate")
    refused = api.post(
        "/v1/projects/bot/models/support/promote",
        json={"version": ungated, "reason": "yolo"},
    )
    assert refused.status_code == 409
    assert "ungated" in refused.json()["detail"]

    # a version whose gate failed is refused, and the failure names the metric
    worse_run = _run(api, worse, "worse")
    v_worse = _version(api, worse_run, "sha256:worse")
    failed_gate = _gate(api, base_run, worse_run)
    assert failed_gate["status"] == "fail"
    refused = api.post(
        "/v1/projects/bot/models/support/promote",
        json={"version": v_worse, "gate": failed_gate["id"], "reason": "try"},
    )
    assert refused.status_code == 409
    assert "exact_match" in refused.json()["detail"]
    # a passed gate of another run cannot be borrowed
    better_run = _run(api, better, "better")
    v_better = _version(api, better_run, "sha256:better")
    passed_gate = _gate(api, base_run, better_run)
    assert passed_gate["status"] == "pass"
    borrowed = api.post(
        "/v1/projects/bot/models/support/promote",
        json={"version": v_worse, "gate": passed_gate["id"], "reason": "sneaky"},
    )
    assert borrowed.status_code == 422

    promoted = api.post(
        "/v1/projects/bot/models/support/promote",
        json={"version": v_better, "gate": passed_gate["id"], "reason": "beats base"},
    )
    assert promoted.status_code == 200
    assert promoted.json()["aliases"]["champion"] == v_better

    rolled = api.post(
        "/v1/projects/bot/models/support/rollback", json={"reason": "complaints in prod"}
    )
    assert rolled.status_code == 200
    model = rolled.json()
    assert model["aliases"]["champion"] == v1
    actions = [(e["action"], e["version"], e["previous_version"]) for e in model["history"]]
    assert actions == [("promote", v1, None), ("promote", v_better, v1), ("rollback", v1, v_better)]
    assert all(e["actor"] for e in model["history"])
    assert model["history"][1]["gate_id"] == passed_gate["id"]
    # nothing earlier to roll back to
    again = api.post("/v1/projects/bot/models/support/rollback", json={"reason": "again"})
    assert again.status_code == 409


def test_eval_runs_are_stored_per_example_and_team_scoped(api, live_server, make_team) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    run_id = _run(api, [1.0, 0.0, 1.0], "r")
    result = api.get(f"/v1/evals/{run_id}/result").json()
    assert [e["id"] for e in result["examples"]] == ["ex0", "ex1", "ex2"]
    assert result["summary"]["exact_match"]["mean"] == 2 / 3
    _, other_key = make_team()
    other = httpx.get(
        f"{live_server.url}/v1/evals/{run_id}", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert other.status_code == 404
    bad = api.post("/v1/projects/bot/evals", json={"result": {"examples": [{"id": "a",
                                                   "scores": {"m": "high"}}]}})
    assert bad.status_code == 422
    assert "scores" in bad.json()["detail"]
