"""Make the OpenAPI schema say what the API serves on errors.

Every error body is ``{"detail": str, "errors": [...]}`` (`app.core.errors.RungError`, the 422
of request validation, the 413/422 of the body intake), not FastAPI's default list. Each
operation documents the error statuses it can answer with: 401 and 404 under ``/v1/``; 400, 409,
413 and 503 on writes; 422 everywhere. Links (`app.core.openapi_links`) chain created objects to
the operations that read them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.openapi_links import add_links

ERROR_BODY: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "what is wrong and how to fix it"},
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "one entry per problem, naming its field (and item index)",
        },
    },
    "required": ["detail", "errors"],
}
_REF = {"$ref": "#/components/schemas/ErrorBody"}
_WRITES = {"post", "put", "patch", "delete"}
_DESCRIPTIONS = {
    "400": "the request cannot be carried out as sent",
    "401": "missing or unknown API key",
    "404": "not found (another team's object is a 404 too)",
    "409": "conflicts with the current state (a name or version already taken, a job ended)",
    "413": "the body is over the size limit",
    "422": "invalid input; `errors` names each bad field",
    "503": "the database is busy or the broker is down: nothing was stored; retry after "
    "Retry-After",
}


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["422"]
    if operation.get("security") or path.startswith("/v1/"):
        statuses += ["401", "404"]
    if method in _WRITES:
        statuses += ["400", "409", "413", "503"]
    return statuses


def _share_success_content(responses: dict[str, Any]) -> None:
    """A 2xx documented only by its description (e.g. the 200 of a repeated push beside the
    201 of a new one) has the same body as its documented sibling."""
    documented = [r["content"] for s, r in responses.items() if s.startswith("2") and
                  r.get("content")]
    if not documented:
        return
    for status, response in responses.items():
        if status.startswith("2") and status != "204" and not response.get("content"):
            response["content"] = documented[0]


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ErrorBody"] = ERROR_BODY
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            _share_success_content(responses)
            for status in _error_statuses(path, method, operation):
                entry = responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
                entry["content"] = {"application/json": {"schema": _REF}}
    add_links(schema)
    app.openapi_schema = schema
    return schema
