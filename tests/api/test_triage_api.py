"""`POST /v1/triage` over real HTTP: the same batch body as the cases route, nothing stored."""

from __future__ import annotations

import httpx

STALE = {
    "input": "wie viel kostet das Monatsticket?",
    "output": "Das Monatsticket kostet 49 Euro.",
    "expected": "Seit Januar kostet das Monatsticket 58 Euro.",
    "feedback": "veraltet, der Preis hat sich geändert",
    "source": "thumbs_down",
}
FORMAT = {
    "input": "Return the order as JSON with keys id and total.",
    "output": "Order 88 totals $12.",
    "expected": '{"id": 88, "total": 12}',
    "attempted": ["prompting"],
}


def test_bare_array_and_object_bodies_give_results_in_order(api: httpx.Client) -> None:
    for body in ([STALE, FORMAT], {"cases": [STALE, FORMAT]}):
        response = api.post("/v1/triage", json=body)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["subcategory"] for r in results] == ["stale_knowledge", "format"]
        assert [r["fix"] for r in results] == ["rag", "lora"]  # prompting was attempted
        assert all(r["evidence"] and 0 <= r["confidence"] <= 1 for r in results)
    labelled = {"case": FORMAT, "label": {"category": "behavior", "subcategory": "style",
                                          "fix": "lora"}}  # fmt: skip
    assert api.post("/v1/triage", json=[labelled]).json()["results"][0]["subcategory"] == "format"


def test_bad_items_are_named_and_auth_is_required(api: httpx.Client, live_server) -> None:  # type: ignore[no-untyped-def]
    response = api.post("/v1/triage", json=[STALE, {"output": "no input"}, "text"])
    assert response.status_code == 422
    fields = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert (1, "input") in fields and (2, "(item)") in fields
    assert response.json()["detail"].startswith("2 of 3 cases are invalid; no case was triaged")
    assert api.post("/v1/triage", json={"cases": []}).status_code == 422
    assert api.post("/v1/triage", json={"nope": 1}).status_code == 422
    bad_json = api.post(
        "/v1/triage", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.json()["detail"]
    assert httpx.post(f"{live_server.url}/v1/triage", json=[STALE]).status_code == 401
