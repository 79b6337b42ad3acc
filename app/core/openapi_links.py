"""OpenAPI links: which response value feeds which later request (a created project's name, a
job's id...). Clients and schemathesis' stateful tests follow them to chain calls."""

from __future__ import annotations

from typing import Any

P = "$request.path.project"
# (method, path, status) of the response -> [(link name, target method, target path, params)]
LINKS: dict[tuple[str, str, str], list[tuple[str, str, str, dict[str, str]]]] = {
    ("post", "/v1/projects", "201"): [
        ("GetProject", "get", "/v1/projects/{project}", {"project": "$response.body#/name"}),
        ("ListCases", "get", "/v1/projects/{project}/cases",
         {"project": "$response.body#/name"}),
        ("CreateCases", "post", "/v1/projects/{project}/cases",
         {"project": "$response.body#/name"}),
        ("CreateModel", "post", "/v1/projects/{project}/models",
         {"project": "$response.body#/name"}),
        ("CreateEval", "post", "/v1/projects/{project}/evals",
         {"project": "$response.body#/name"}),
        ("GetGatePolicy", "get", "/v1/projects/{project}/gate-policy",
         {"project": "$response.body#/name"}),
    ],
    ("post", "/v1/projects/{project}/cases", "201"): [
        ("GetCase", "get", "/v1/projects/{project}/cases/{case_id}",
         {"project": P, "case_id": "$response.body#/ids/0"}),
        ("DeleteCase", "delete", "/v1/projects/{project}/cases/{case_id}",
         {"project": P, "case_id": "$response.body#/ids/0"}),
    ],
    ("post", "/v1/projects/{project}/models", "201"): [
        ("GetModel", "get", "/v1/projects/{project}/models/{name}",
         {"project": P, "name": "$response.body#/name"}),
        ("AddVersion", "post", "/v1/projects/{project}/models/{name}/versions",
         {"project": P, "name": "$response.body#/name"}),
    ],
    ("post", "/v1/projects/{project}/models/{name}/versions", "201"): [
        ("GetModel", "get", "/v1/projects/{project}/models/{name}",
         {"project": P, "name": "$request.path.name"}),
        ("Promote", "post", "/v1/projects/{project}/models/{name}/promote",
         {"project": P, "name": "$request.path.name"}),
    ],
    ("post", "/v1/projects/{project}/evals", "201"): [
        ("GetEval", "get", "/v1/evals/{run_id}", {"run_id": "$response.body#/id"}),
        ("GetEvalResult", "get", "/v1/evals/{run_id}/result", {"run_id": "$response.body#/id"}),
    ],
    ("post", "/v1/projects/{project}/gates", "201"): [
        ("GetGate", "get", "/v1/projects/{project}/gates/{gate_id}",
         {"project": P, "gate_id": "$response.body#/id"}),
    ],
    ("post", "/v1/projects/{project}/jobs", "201"): [
        ("GetJob", "get", "/v1/projects/{project}/jobs/{job_id}",
         {"project": P, "job_id": "$response.body#/id"}),
        ("CancelJob", "post", "/v1/projects/{project}/jobs/{job_id}/cancel",
         {"project": P, "job_id": "$response.body#/id"}),
        ("JobEvents", "get", "/v1/projects/{project}/jobs/{job_id}/events/list",
         {"project": P, "job_id": "$response.body#/id"}),
    ],
    ("post", "/v1/projects/{project}/datasets", "201"): [
        ("GetDataset", "get", "/v1/projects/{project}/datasets/{ref}",
         {"project": P, "ref": "$response.body#/version/sha256"}),
        ("DatasetRows", "get", "/v1/projects/{project}/datasets/{ref}/rows",
         {"project": P, "ref": "$response.body#/version/sha256"}),
    ],
}


def add_links(schema: dict[str, Any]) -> None:
    """Write `LINKS` into ``schema`` (operations that do not exist are skipped)."""
    paths = schema.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, target_method, target_path, parameters in links:
            target = paths.get(target_path, {}).get(target_method)
            if target is None:
                continue
            response.setdefault("links", {})[name] = {
                "operationId": target["operationId"],
                "parameters": parameters,
            }
