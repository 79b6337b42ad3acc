"""Read a request body as JSON with a 422 that says what is wrong (for routes that validate a
batch themselves, so each bad item can be named)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from app.core.errors import InvalidInputError

BATCH_DOC = (
    'A JSON array of failure cases, or {"cases": [...]}. Each item is a bare case '
    "(input, output, expected, context, feedback, attempted, source, metadata) or a labelled "
    'line {"case": {...}, "label": {...}}.'
)
BATCH_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": BATCH_DOC,
        "content": {"application/json": {"schema": {"type": ["array", "object"]}}},
    }
}


async def read_json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"the body is not valid JSON: {exc}",
            errors=[{"index": None, "field": "(body)", "message": str(exc)}],
        ) from exc


async def read_case_batch(request: Request) -> Any:
    """The list of case items of a batch body: a bare array, or the `cases` of an object."""
    body = await read_json_body(request)
    return body.get("cases") if isinstance(body, dict) else body
