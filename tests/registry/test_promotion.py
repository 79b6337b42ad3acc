"""Promotion sits behind the gate; rollback restores the previous champion; history is kept."""

from __future__ import annotations

import httpx
import numpy as np


def _result(scores: list[float], name: str, ids: list[str] | None = None) -> dict:
    ids = ids or [f"ex{i}" for i in range(len(scores))]
    return {
        "run": {"name": name, "model": name, "dataset_sha256": "d" * 64},
        "examples": [
            {"id": ids[i], "scores": {"exact_match": s}, "output": f"answer {i}"}
            for i, s in enumerate(scores)
        ],
    }


def _run(api: httpx.Client, scores: list[float], name: str, **kwargs: object) -> str:
    result = _result(scores, name, **kwargs)  # type: ignore[arg-type]
    response = api.post(
        "/v1/projects/bot/evals", json={"name": name, "candidate": name, "result": result}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _version(api: httpx.Client, run_id: str | None, source: str, **extra: object) -> int:
    body = {"source": source, **({"eval_run": run_id} if run_id else {}), **extra}
    response = api.post("/v1/projects/bot/models/support/versions", json=body)
    assert response.status_code == 201, response.text
    return response.json()["version"]


def _gate(api: httpx.Client, baseline: str, candidate: str, **extra: object) -> dict:
    response = api.post(
        "/v1/projects/bot/gates", json={"baseline": baseline, "candidate": candidate, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _promote(api: httpx.Client, version: int, gate: str | None, reason: str) -> httpx.Response:
    body = {"version": version, "reason": reason, **({"gate": gate} if gate else {})}
    return api.post("/v1/projects/bot/models/support/promote", json=body)


def _scores() -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    base = (rng.random(60) < 0.6).astype(float)
    better = np.where((base == 1) | (np.arange(60) % 3 == 0), 1.0, 0.0)  # fixes 1 in 3 failures
    best = np.where((better == 1) | (np.arange(60) % 3 == 1), 1.0, 0.0)  # and one more in 3
    worse = np.where((best == 1) & (np.arange(60) % 2 == 0), 0.0, best)  # loses half its passes
    return {
        k: v.tolist()
        for k, v in {"base": base, "better": better, "best": best, "worse": worse}.items()
    }


def test_promotion_is_bound_to_the_champion_and_rollback_restores_it(api) -> None:
    scores = _scores()
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    assert api.post("/v1/projects/bot/models", json={"name": "support"}).status_code == 201
    runs = {name: _run(api, s, name) for name, s in scores.items()}

    # no champion and no base model registered: nothing to gate a first champion against
    v1 = _version(api, runs["better"], "sha256:better")
    early = _gate(api, runs["base"], runs["better"])
    refused = _promote(api, v1, early["id"], "first")
    assert refused.status_code == 409
    assert "register the base model as version 0" in refused.json()["detail"]

    assert _version(api, runs["base"], "base", base=True) == 0
    again = api.post(
        "/v1/projects/bot/models/support/versions",
        json={"source": "base", "eval_run": runs["base"], "base": True},
    )
    assert again.status_code == 409
    # a run gated against itself is refused outright
    self_gate = api.post(
        "/v1/projects/bot/gates", json={"baseline": runs["better"], "candidate": runs["better"]}
    )
    assert self_gate.status_code == 422
    assert "cannot be gated against itself" in self_gate.json()["detail"]
    # version 0 is the baseline, never a champion
    assert _promote(api, 0, None, "base").status_code in (409, 422)

    # the first champion: gated against the base model's run
    assert early["status"] == "pass", early["report"]
    promoted = _promote(api, v1, early["id"], "beats the base model")
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["aliases"]["champion"] == v1

    # an ungated version is refused, and the message names the baseline to gate against
    ungated = _version(api, None, "sha256:nogate")
    refused = _promote(api, ungated, None, "yolo")
    assert refused.status_code == 409
    assert "ungated" in refused.json()["detail"]

    # a gate that passed against the base model, not against the champion, is refused
    v2 = _version(api, runs["best"], "sha256:best")
    vs_base = _gate(api, runs["base"], runs["best"])
    assert vs_base["status"] == "pass"
    refused = _promote(api, v2, vs_base["id"], "beats base")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "must beat the champion, version 1" in detail and runs["better"] in detail

    # a passed gate of another run cannot be borrowed
    v3 = _version(api, runs["worse"], "sha256:worse")
    vs_champion = _gate(api, runs["better"], runs["best"])
    assert vs_champion["status"] == "pass", vs_champion["report"]
    assert _promote(api, v3, vs_champion["id"], "sneaky").status_code == 422
    promoted = _promote(api, v2, vs_champion["id"], "beats the champion")
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["aliases"]["champion"] == v2

    # a failed gate is refused and names the metric
    failed = _gate(api, runs["best"], runs["worse"])
    assert failed["status"] == "fail"
    refused = _promote(api, v3, failed["id"], "try")
    assert refused.status_code == 409
    assert "exact_match" in refused.json()["detail"]

    rolled = api.post(
        "/v1/projects/bot/models/support/rollback", json={"reason": "complaints in prod"}
    )
    assert rolled.status_code == 200
    model = rolled.json()
    assert model["aliases"]["champion"] == v1
    actions = [(e["action"], e["version"], e["previous_version"]) for e in model["history"]]
    assert actions == [("promote", v1, None), ("promote", v2, v1), ("rollback", v1, v2)]
    assert all(e["actor"] for e in model["history"])
    assert model["history"][0]["gate_id"] == early["id"]
    assert model["history"][1]["gate_id"] == vs_champion["id"]
    # nothing earlier to roll back to
    again = api.post("/v1/projects/bot/models/support/rollback", json={"reason": "again"})
    assert again.status_code == 409


def test_dataset_mismatches_are_refused_and_say_which(api) -> None:
    scores = _scores()
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    base = _run(api, scores["base"], "base")
    shifted = _run(api, scores["better"], "shifted", ids=[f"other{i}" for i in range(60)])
    response = api.post("/v1/projects/bot/gates", json={"baseline": base, "candidate": shifted})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "different examples: 60 only in baseline" in detail and "other0" in detail

    other = _result(scores["better"], "other-data")
    other["run"]["dataset_sha256"] = "e" * 64
    created = api.post("/v1/projects/bot/evals", json={"name": "x", "result": other})
    response = api.post(
        "/v1/projects/bot/gates", json={"baseline": base, "candidate": created.json()["id"]}
    )
    assert response.status_code == 409
    assert "different datasets" in response.json()["detail"]
    assert "dddddddddddd" in response.json()["detail"]


def test_too_few_examples_is_undecided_and_cannot_be_promoted(api) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    assert api.post("/v1/projects/bot/models", json={"name": "support"}).status_code == 201
    base = _run(api, [0.0, 1.0] * 5, "base")
    better = _run(api, [1.0] * 10, "better")  # five more passes, but on ten examples
    _version(api, base, "base", base=True)
    v1 = _version(api, better, "sha256:better")
    gate = _gate(api, base, better)
    assert gate["status"] == "undecided"
    assert "too few examples (10 paired" in gate["report"]["decisions"][0]["reason"]
    refused = _promote(api, v1, gate["id"], "small")
    assert refused.status_code == 409
    assert "undecided: exact_match" in refused.json()["detail"]


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
    bad = api.post(
        "/v1/projects/bot/evals",
        json={"result": {"examples": [{"id": "a", "scores": {"m": "high"}}]}},
    )
    assert bad.status_code == 422
    assert "scores" in bad.json()["detail"]
