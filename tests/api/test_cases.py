"""Failure cases: batches are all-or-nothing, every bad item is named, reads paginate."""

from __future__ import annotations

import json

import httpx

GOOD = {
    "input": "how long do refunds take?",
    "output": "Refunds take 3 days.",
    "expected": "Refunds take 5-10 business days.",
    "context": ["[Billing] Refunds are returned within 5-10 business days."],
    "feedback": "ignored the doc",
    "attempted": ["prompting"],
    "source": "thumbs_down",
    "metadata": {"app": "billing-bot"},
}
LABELLED = {
    "case": {"input": "format as json", "output": "name: Ann", "expected": '{"name": "Ann"}'},
    "label": {"category": "behavior", "subcategory": "format", "fix": "prompting"},
}


def _project(api: httpx.Client, name: str = "bot") -> None:
    assert api.post("/v1/projects", json={"name": name}).status_code == 201


def _count(api: httpx.Client, project: str = "bot") -> int:
    return len(api.get(f"/v1/projects/{project}/cases", params={"limit": 500}).json()["items"])


def test_store_and_read_back_bare_and_labelled(api) -> None:
    _project(api)
    response = api.post("/v1/projects/bot/cases", json={"cases": [GOOD, LABELLED]})
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    assert response.json()["created"] == 2
    first = api.get(f"/v1/projects/bot/cases/{ids[0]}").json()
    for field, value in GOOD.items():
        assert first[field] == value
    assert first["reviewer_label"] is None
    second = api.get(f"/v1/projects/bot/cases/{ids[1]}").json()
    assert second["reviewer_label"] == LABELLED["label"]
    assert second["output"] == "name: Ann"


def test_batch_with_bad_items_is_rejected_whole_naming_each(api) -> None:
    _project(api)
    api.post("/v1/projects/bot/cases", json=[GOOD])
    bad_batch = [
        GOOD,
        {"output": "no input here"},
        GOOD,
        {"input": "x", "output": "y", "attempted": ["magic"]},
        {"case": {"input": "q", "output": "a"}, "label": {"category": "knowledge",
                                                          "subcategory": "vibes", "fix": "rag"}},
        "not an object",
        {"input": "q", "output": "a", "surprise": 1},
    ]
    response = api.post("/v1/projects/bot/cases", json=bad_batch)
    assert response.status_code == 422
    body = response.json()
    assert "5 of 7 cases are invalid" in body["detail"]
    assert "nothing in this batch was stored" in body["detail"]
    named = {(e["index"], e["field"]) for e in body["errors"]}
    assert (1, "input") in named
    assert (3, "attempted.0") in named
    assert (4, "label.subcategory") in named
    assert (5, "(item)") in named
    assert (6, "surprise") in named
    assert all(e["index"] not in (0, 2) for e in body["errors"])
    assert _count(api) == 1  # only the earlier good batch


def test_oversize_batch_is_413_and_stores_nothing(api, settings) -> None:
    _project(api)
    batch = [GOOD] * (settings.max_batch_cases + 1)
    response = api.post("/v1/projects/bot/cases", json=batch)
    assert response.status_code == 413
    assert f"limit is {settings.max_batch_cases}" in response.json()["detail"]
    assert _count(api) == 0


def test_oversize_body_is_413(api, settings) -> None:
    _project(api)
    huge = {**GOOD, "output": "x" * (settings.max_body_bytes + 10)}
    response = api.post("/v1/projects/bot/cases", json=[huge])
    assert response.status_code == 413
    assert "byte limit" in response.json()["detail"]
    # a chunked body without a Content-Length is cut off the same way
    payload = json.dumps([huge]).encode()

    def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    response = api.post(
        "/v1/projects/bot/cases", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _count(api) == 0


def test_invalid_json_and_empty_batch_are_422(api) -> None:
    _project(api)
    response = api.post(
        "/v1/projects/bot/cases", content=b"[{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]
    response = api.post("/v1/projects/bot/cases", json=[])
    assert response.status_code == 422
    assert "empty" in response.json()["detail"]
    response = api.post("/v1/projects/bot/cases", json={"items": []})
    assert response.status_code == 422


def test_list_paginates_with_cursor_and_filters(api) -> None:
    _project(api)
    batch = [{**GOOD, "input": f"q{i}", "source": "eval_run" if i % 2 else "qa"} for i in range(7)]
    ids = api.post("/v1/projects/bot/cases", json=batch).json()["ids"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/projects/bot/cases", params=params).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen)) == 7
    filtered = api.get("/v1/projects/bot/cases", params={"source": "eval_run"}).json()["items"]
    assert sorted(i["input"] for i in filtered) == ["q1", "q3", "q5"]
    bad = api.get("/v1/projects/bot/cases", params={"cursor": "!!"})
    assert bad.status_code == 422
    assert "cursor" in bad.json()["detail"]
    assert api.get("/v1/projects/bot/cases", params={"limit": 0}).status_code == 422


def test_delete_one(api) -> None:
    _project(api)
    ids = api.post("/v1/projects/bot/cases", json=[GOOD, GOOD]).json()["ids"]
    assert api.delete(f"/v1/projects/bot/cases/{ids[0]}").status_code == 204
    assert api.get(f"/v1/projects/bot/cases/{ids[0]}").status_code == 404
    assert api.get(f"/v1/projects/bot/cases/{ids[1]}").status_code == 200
    assert api.delete(f"/v1/projects/bot/cases/{ids[0]}").status_code == 404


def test_projects_validate_and_conflict(api) -> None:
    response = api.post("/v1/projects", json={"name": "Bad Name!"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    _project(api)
    conflict = api.post("/v1/projects", json={"name": "bot"})
    assert conflict.status_code == 409
    assert api.get("/v1/projects/missing/cases").status_code == 404
