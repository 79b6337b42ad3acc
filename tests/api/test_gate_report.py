"""The HTML report's evals section shows, per gated metric, the effect, the interval, the verdict
and the smallest drop the gate could have detected."""

from __future__ import annotations

import httpx
import numpy as np


def _run(api: httpx.Client, scores: np.ndarray, name: str) -> str:
    result = {
        "run": {"name": name},
        "examples": [
            {"id": f"ex{i}", "scores": {"rouge_l": float(s)}} for i, s in enumerate(scores)
        ],
    }
    response = api.post(
        "/v1/projects/bot/evals", json={"name": name, "candidate": name, "result": result}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_report_shows_effect_interval_verdict_and_detectable_drop(api: httpx.Client) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    rng = np.random.default_rng(5)
    base = rng.uniform(0.2, 0.8, size=48)
    base_run = _run(api, base, "base-model")
    better = _run(api, base + 0.05 + rng.normal(0, 0.02, size=48), "lora-v2")
    gate = api.post("/v1/projects/bot/gates", json={"baseline": base_run, "candidate": better})
    assert gate.status_code == 201, gate.text
    (decision,) = gate.json()["report"]["decisions"]
    assert decision["status"] == "pass"

    page = api.get("/v1/projects/bot/report")
    assert page.status_code == 200, page.text
    html = page.text
    section = html[html.index('id="evals"') : html.index('id="jobs"')]
    assert "Gate: lora-v2 vs base-model" in section
    assert "badge-pass" in section
    assert f"+{decision['mean_diff']:.3f}" in section  # the effect
    assert f"[+{decision['ci_low']:.3f}, +{decision['ci_high']:.3f}]" in section  # the CI
    drop = decision["detectable_drop"]
    assert f"with 48 examples this gate cannot see a drop under {drop:.2g}" in section
    assert "gate policy version 0" in section  # which policy the gate applied
