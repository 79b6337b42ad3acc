"""Whatever the intake accepts is stored and read back unchanged, by every read of the resource
(one object, the list, the result), on SQLite and PostgreSQL: values at the edge of what is
allowed (63 levels deep, 64-bit integers, extreme floats, any script, astral characters)."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.json_body import INT_MAX, INT_MIN, MAX_DEPTH

TEXT = "中文 ✓ Ελληνικά עברית 🙂 \t tab \n newline \\ \" quote"


def _deep(levels: int) -> Any:
    value: Any = {"leaf": [INT_MAX, INT_MIN, 1.7976931348623157e308, 5e-324, -0.5, True, None]}
    for i in range(levels):
        value = {f"k{i}": value} if i % 2 else [value]
    return value


def _utc(stamp: str) -> bool:
    return stamp.endswith(("Z", "+00:00"))


def test_projects_and_cases_read_back(api: httpx.Client) -> None:
    project = api.post("/v1/projects", json={"name": "bot", "description": TEXT})
    assert project.status_code == 201, project.text
    assert api.get("/v1/projects/bot").json()["description"] == TEXT
    listed = api.get("/v1/projects").json()
    assert listed[0]["description"] == TEXT and _utc(listed[0]["created_at"])

    metadata = {"deep": _deep(MAX_DEPTH - 6), "text": TEXT}  # body, case, metadata: 64 in all
    case = {"input": TEXT, "output": TEXT, "expected": TEXT, "context": [TEXT],
            "metadata": metadata}
    created = api.post("/v1/projects/bot/cases", json=[case])
    assert created.status_code == 201, created.text
    one = api.get(f"/v1/projects/bot/cases/{created.json()['ids'][0]}").json()
    assert one["metadata"] == metadata and one["input"] == TEXT and _utc(one["created_at"])
    page = api.get("/v1/projects/bot/cases").json()
    assert page["items"][0]["metadata"] == metadata


def test_eval_runs_and_models_read_back(api: httpx.Client) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    run_info = {"name": TEXT, "deep": _deep(MAX_DEPTH - 6)}
    examples = [{"id": f"ex{i}", "scores": {"em": float(i % 2)}} for i in range(6)]
    created = api.post("/v1/projects/bot/evals", json={
        "name": TEXT, "candidate": TEXT, "result": {"run": run_info, "examples": examples}})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert api.get(f"/v1/evals/{run_id}").json()["name"] == TEXT
    result = api.get(f"/v1/evals/{run_id}/result")
    assert result.status_code == 200, result.text
    assert result.json()["run"]["deep"] == run_info["deep"]
    assert [r["name"] for r in api.get("/v1/projects/bot/evals").json()] == [TEXT]

    assert api.post("/v1/projects/bot/models", json={"name": "m"}).status_code == 201
    version = api.post("/v1/projects/bot/models/m/versions",
                       json={"source": TEXT, "description": TEXT, "base_model": TEXT})
    assert version.status_code == 201, version.text
    model = api.get("/v1/projects/bot/models/m").json()
    assert model["versions"][0]["description"] == TEXT and model["versions"][0]["source"] == TEXT
    assert _utc(model["versions"][0]["created_at"])
