"""The project's gate policy over HTTP: stored and versioned with who and when, applied to every
gate, tightened but never loosened by a request, and a policy that skips everything refused."""

from __future__ import annotations

import httpx
import numpy as np


def _run(api: httpx.Client, scores: np.ndarray, name: str) -> str:
    result = {
        "run": {"name": name},
        "examples": [
            {"id": f"ex{i}", "scores": {"rouge_l": float(s), "em": float(s > 0.5)}}
            for i, s in enumerate(scores)
        ],
    }
    response = api.post("/v1/projects/bot/evals", json={"name": name, "result": result})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _runs(api: httpx.Client) -> tuple[str, str]:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.9, size=60)
    cand = base + 0.03 + rng.normal(0, 0.01, size=60)
    return _run(api, base, "base"), _run(api, cand, "cand")


def test_policy_is_stored_versioned_and_applied(api) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    initial = api.get("/v1/projects/bot/gate-policy")
    assert initial.status_code == 200
    assert initial.json()["version"] == 0 and initial.json()["history"] == []
    in_force = initial.json()["defaults_in_force"]  # the built-in defaults
    assert in_force["min_examples"] == 30 and in_force["confidence"] == 0.95
    assert initial.json()["policy"]["judge"] == {"max_unparsed": 0.1, "max_flip_rate": 0.2}

    first = api.put(
        "/v1/projects/bot/gate-policy",
        json={
            "policy": {"defaults": {"margin": 0.02}, "metrics": {"em": {"gate": False}}},
            "reason": "em is too coarse on 60 examples",
        },
    )
    assert first.status_code == 200, first.text
    second = api.put(
        "/v1/projects/bot/gate-policy",
        json={
            "policy": {
                "defaults": {"margin": 0.02, "confidence": 0.99},
                "metrics": {"em": {"gate": False}},
            }
        },
    )
    body = second.json()
    assert body["version"] == 2
    assert body["policy"]["defaults"]["confidence"] == 0.99
    history = body["history"]
    assert [h["version"] for h in history] == [1, 2]
    assert history[0]["reason"] == "em is too coarse on 60 examples"
    assert all(h["actor"] and h["created_at"] for h in history)

    base, cand = _runs(api)
    gate = api.post("/v1/projects/bot/gates", json={"baseline": base, "candidate": cand})
    assert gate.status_code == 201, gate.text
    decision = gate.json()
    assert decision["policy_version"] == 2
    assert "gate policy version 2" in decision["report"]["policy_source"]
    by_metric = {d["metric"]: d for d in decision["report"]["decisions"]}
    assert by_metric["em"]["status"] == "skipped"
    assert by_metric["rouge_l"]["margin"] == 0.02 and by_metric["rouge_l"]["confidence"] == 0.99
    assert by_metric["rouge_l"]["status"] == "pass"
    assert by_metric["rouge_l"]["detectable_drop"] > 0.02


def test_a_request_policy_may_tighten_but_not_loosen(api) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    stored = {"defaults": {"margin": 0.02}, "metrics": {"em": {"gate": False}}}
    assert api.put("/v1/projects/bot/gate-policy", json={"policy": stored}).status_code == 200
    base, cand = _runs(api)

    looser = api.post(
        "/v1/projects/bot/gates",
        json={
            "baseline": base,
            "candidate": cand,
            "policy": {"defaults": {"margin": 0.05, "min_examples": 5}},
        },
    )
    assert looser.status_code == 422
    detail = looser.json()["detail"]
    assert "loosens the project's gate policy (version 1)" in detail
    assert "widens the margin 0.02 -> 0.05" in detail and "min_examples 30 -> 5" in detail
    assert "PUT /v1/projects/bot/gate-policy" in detail

    skip_all = api.post(
        "/v1/projects/bot/gates",
        json={"baseline": base, "candidate": cand, "policy": {"defaults": {"gate": False}}},
    )
    assert skip_all.status_code == 422
    assert "skips every metric" in skip_all.json()["detail"]

    tighter = api.post(
        "/v1/projects/bot/gates",
        json={
            "baseline": base,
            "candidate": cand,
            "policy": {"defaults": {"margin": 0.01}, "metrics": {"em": {"gate": True}}},
        },
    )
    assert tighter.status_code == 201, tighter.text
    report = tighter.json()["report"]
    assert "tightened by the request" in report["policy_source"]
    assert {d["metric"]: d["margin"] for d in report["decisions"]}["rouge_l"] == 0.01
    assert {d["metric"]: d["gated"] for d in report["decisions"]}["em"] is True


def test_policies_that_gate_nothing_are_refused(api) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    refused = api.put(
        "/v1/projects/bot/gate-policy", json={"policy": {"defaults": {"gate": False}}}
    )
    assert refused.status_code == 422
    assert "skips every metric" in refused.json()["detail"]
    bad = api.put("/v1/projects/bot/gate-policy", json={"policy": {"defaults": {"margin": -1}}})
    assert bad.status_code == 422
    assert api.get("/v1/projects/bot/gate-policy").json()["version"] == 0

    # a stored policy that gates only a metric these runs lack: the gate would skip everything
    only = api.put("/v1/projects/bot/gate-policy", json={"policy": {"only": ["bleu"]}})
    assert only.status_code == 200
    base, cand = _runs(api)
    gate = api.post("/v1/projects/bot/gates", json={"baseline": base, "candidate": cand})
    assert gate.status_code == 422
    assert "every metric was skipped" in gate.json()["detail"]
    assert "rouge_l" in gate.json()["detail"]


def test_a_gate_made_under_an_older_policy_cannot_promote(api) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    assert api.post("/v1/projects/bot/models", json={"name": "m"}).status_code == 201
    base, cand = _runs(api)
    versions = "/v1/projects/bot/models/m/versions"
    assert (
        api.post(versions, json={"source": "b", "eval_run": base, "base": True}).json()["version"]
        == 0
    )
    v1 = api.post(versions, json={"source": "c", "eval_run": cand}).json()["version"]
    policy = {"metrics": {"em": {"gate": False}}}
    assert api.put("/v1/projects/bot/gate-policy", json={"policy": policy}).status_code == 200
    gate = api.post("/v1/projects/bot/gates", json={"baseline": base, "candidate": cand}).json()
    assert gate["status"] == "pass", gate["report"]
    tightened = {**policy, "defaults": {"confidence": 0.99}}
    assert api.put("/v1/projects/bot/gate-policy", json={"policy": tightened}).status_code == 200
    refused = api.post(
        "/v1/projects/bot/models/m/promote", json={"version": v1, "gate": gate["id"], "reason": "x"}
    )
    assert refused.status_code == 409
    assert "policy is now version 2: gate again" in refused.json()["detail"]
    regate = api.post("/v1/projects/bot/gates", json={"baseline": base, "candidate": cand}).json()
    promoted = api.post(
        "/v1/projects/bot/models/m/promote",
        json={"version": v1, "gate": regate["id"], "reason": "x"},
    )
    assert promoted.status_code == 200, promoted.text
