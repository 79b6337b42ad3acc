"""`GET .../recommendation` and `GET .../report` over real HTTP: the stored cases drive the
plan, the request can size the tuning advice, bad parameters are a 422, other teams get 404."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

CASES = [
    {
        "input": "Return the order as JSON with keys id and total.",
        "output": "Order 88 totals $12.",
        "expected": '{"id": 88, "total": 12}',
        "feedback": "not json, the parser failed",
        "attempted": ["prompting"],
    },
    {
        "input": "Reply to the customer about the late parcel.",
        "output": "OMG so sorry!!! 😭😭 we totally messed up lol!!!",
        "expected": "Sorry for the delay: your parcel arrives tomorrow.",
        "feedback": "way too many emojis, not our tone",
        "attempted": ["prompting"],
    },
    {
        "input": "How much is the annual north marina permit?",
        "output": "The annual permit costs $1,150.",
        "expected": "Since January 2025 the annual permit costs $1,400.",
        "feedback": "outdated, the fee changed this year",
    },
]


def _project_with_cases(api: httpx.Client) -> str:
    assert api.post("/v1/projects", json={"name": "shop"}).status_code == 201
    assert api.post("/v1/projects/shop/cases", json=CASES).status_code == 201
    return "/v1/projects/shop"


def test_recommendation_reflects_the_cases_and_the_requested_hardware(api: httpx.Client) -> None:
    path = _project_with_cases(api)
    rec = api.get(f"{path}/recommendation")
    assert rec.status_code == 200, rec.text
    body = rec.json()
    assert body["headline"]
    assert [s["rung"] for s in body["plan"]] == ["rag", "lora"]
    assert sum(s["case_count"] for s in body["plan"]) == len(CASES)

    big = api.get(
        f"{path}/recommendation",
        params={"base_model": "meta-llama/Llama-3.1-70B-Instruct", "gpu_memory_gb": 24},
    ).json()["tuning"]
    assert big["params_b"] == 70 and big["gpu_memory_gb"] == 24
    roomy = api.get(
        f"{path}/recommendation",
        params={"base_model": "meta-llama/Llama-3.1-70B-Instruct", "gpu_memory_gb": 640},
    ).json()["tuning"]
    assert roomy["gpu_memory_gb"] == 640
    totals = {m["method"]: m["total_gb"] for m in big["memory"]}
    assert totals == {m["method"]: m["total_gb"] for m in roomy["memory"]}  # same model
    assert totals["full_sft"] > totals["lora"] > totals["qlora"] > 24
    assert not any(m["fits"] for m in big["memory"])
    assert {m["method"] for m in roomy["memory"] if m["fits"]} == {"lora", "qlora"}


def test_bad_parameters_are_422_and_other_teams_get_404(
    api: httpx.Client, make_team, live_server
) -> None:  # type: ignore[no-untyped-def]
    path = _project_with_cases(api)
    for params in ({"gpu_memory_gb": -5}, {"gpu_memory_gb": "lots"}, {"base_model": "x" * 301}):
        for page in ("recommendation", "report"):
            response = api.get(f"{path}/{page}", params=params)
            assert response.status_code == 422, (page, params, response.text)
            assert next(iter(params)) in response.json()["detail"]
    _, other_key = make_team()
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {other_key}"}
    ) as other:
        assert other.get(f"{path}/recommendation").status_code == 404
        assert other.get(f"{path}/report").status_code == 404


def test_report_is_a_page_with_the_verdict_first(api: httpx.Client) -> None:
    path = _project_with_cases(api)
    response = api.get(f"{path}/report", params={"gpu_memory_gb": 24})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "shop" in html and "<svg" in html
    assert html.index("Should we fine-tune") < html.index("Action plan")


def test_rung_report_writes_the_page_and_the_json(  # type: ignore[no-untyped-def]
    api: httpx.Client, live_server, tmp_path: Path
) -> None:
    _project_with_cases(api)
    env = {
        **os.environ,
        "RUNG_URL": live_server.url,
        "RUNG_API_KEY": api.headers["Authorization"].split()[1],
    }

    def rung(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "report", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    page = tmp_path / "report.html"
    done = rung("shop", "--out", str(page))
    assert done.returncode == 0, done.stderr
    assert "Should we fine-tune" in page.read_text()
    sized = tmp_path / "rec.json"
    args = ("--json", "--gpu-memory-gb", "24", "--base-model", "meta-llama/Llama-3.1-70B")
    done = rung("shop", "--out", str(sized), *args)
    assert done.returncode == 0, done.stderr
    tuning = json.loads(sized.read_text())["tuning"]
    assert tuning["params_b"] == 70 and tuning["gpu_memory_gb"] == 24
    bad = rung("shop", "--out", str(tmp_path / "x.html"), "--gpu-memory-gb", "-1")
    assert bad.returncode == 1 and "gpu_memory_gb" in bad.stderr + bad.stdout
    assert not (tmp_path / "x.html").exists()
    missing = rung("nope", "--out", str(tmp_path / "y.html"))
    assert missing.returncode == 1 and "not found" in missing.stderr + missing.stdout
