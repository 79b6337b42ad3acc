"""The published OpenAPI schema says what the API serves: error bodies, error statuses, binary
downloads, what a batch body is. (schemathesis checks the responses against it as a whole; these
pin down the parts that used to be wrong.)"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema


def _schema(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    out: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        out = out[part]
    return out


def test_error_bodies_are_documented_as_served(api: httpx.Client) -> None:
    schema = _schema(api)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    served = api.post("/v1/projects", json={"name": "NOT A SLUG"})
    assert served.status_code == 422
    cases = schema["paths"]["/v1/projects/{project}/cases"]["post"]["responses"]
    for status in ("401", "404", "409", "413", "422"):
        assert status in cases, status
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            documented = operation["responses"]["422"]["content"]["application/json"]["schema"]
            jsonschema.validate(served.json(), _resolve(schema, documented))
            if path.startswith("/v1/"):
                assert {"401", "404"} <= set(operation["responses"]), (method, path)


def test_downloads_are_documented_as_bytes(api: httpx.Client) -> None:
    schema = _schema(api)
    for path in ("/v1/projects/{project}/artifacts/{artifact_id}/download",
                 "/v1/projects/{project}/jobs/{job_id}/artifacts/{artifact_id}/download"):
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert "application/json" not in content
        assert {"application/octet-stream", "application/x-tar"} <= set(content)
    rows = schema["paths"]["/v1/projects/{project}/datasets/{ref}/rows"]["get"]["responses"]
    assert list(rows["200"]["content"]) == ["application/x-ndjson"]
    push = schema["paths"]["/v1/projects/{project}/datasets"]["post"]["responses"]
    assert push["200"]["content"] == push["201"]["content"]  # a repeated push: same body


def test_an_empty_object_is_not_a_documented_batch(api: httpx.Client) -> None:
    schema = _schema(api)
    for path in ("/v1/projects/{project}/cases", "/v1/triage"):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        validator = jsonschema.Draft202012Validator(body["schema"])
        assert not validator.is_valid({})
        assert not validator.is_valid([])
        assert validator.is_valid([{"input": "q", "output": "a"}])
        assert validator.is_valid({"cases": [{"input": "q", "output": "a"}]})
