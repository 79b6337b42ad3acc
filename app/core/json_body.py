"""One hardened JSON intake: every request body is parsed here, whatever its content type.

`parse_json` refuses, with a 422 that names the field:

* bytes that are not UTF-8 JSON;
* nesting deeper than `MAX_DEPTH` (objects and arrays);
* integers outside the signed 64-bit range (what every database column here can hold) and
  floats that are not finite (``NaN``, ``Infinity``, ``1e400``);
* strings (values and keys) holding a NUL character or a lone surrogate (``"\\ud800"``), which
  PostgreSQL refuses and which cannot be written back out as UTF-8;
* a ``metadata`` object larger than `MAX_METADATA_BYTES` once serialised.

`app.core.body_limit.BodyIntakeMiddleware` runs it on every body before any route sees it, so a
route (or FastAPI's own Pydantic parsing) only ever receives JSON that can be stored and read
back. Routes that validate a batch themselves (cases, triage) read it with `read_case_batch`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from app.core.errors import InvalidInputError

MAX_DEPTH = 64
MAX_METADATA_BYTES = 64 * 1024
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_MAX_INT_CHARS = 20  # "-9223372036854775808"

BATCH_DOC = (
    'A JSON array of failure cases, or {"cases": [...]}. Each item is a bare case '
    "(input, output, expected, context, feedback, attempted, source, metadata) or a labelled "
    'line {"case": {...}, "label": {...}}.'
)
BATCH_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": BATCH_DOC,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}, "minItems": 1},
                        {
                            "type": "object",
                            "properties": {
                                "cases": {
                                    "type": "array",
                                    "items": {"type": "object"},
                                    "minItems": 1,
                                }
                            },
                            "required": ["cases"],
                        },
                    ]
                }
            }
        },
    }
}


class _Refused:
    """What a parse hook returns for a value it refuses; the walk names the field."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _parse_int(text: str) -> int | _Refused:
    if len(text) > _MAX_INT_CHARS:
        return _Refused(f"integer of {len(text)} digits is out of range [{INT_MIN}, {INT_MAX}]")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        return _Refused(f"integer {text} is out of range [{INT_MIN}, {INT_MAX}]")
    return value


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return _Refused(f"number {text[:40]} is too large for a 64-bit float")
    return value


def _parse_constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number; send a finite number or null")


def _field(path: list[str | int]) -> str:
    return ".".join(str(p) for p in path) or "(body)"


def _bad(path: list[str | int], message: str, what: str = "request body") -> InvalidInputError:
    field = _field(path)
    return InvalidInputError(
        f"invalid {what}: {field}: {message}",
        errors=[{"field": field, "message": message}],
    )


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (e.g. \\ud800), which is not valid Unicode"
    return None


def _check(value: Any, what: str) -> None:
    """Walk the parsed value (iteratively: no recursion limit) and refuse what cannot be kept."""
    stack: list[tuple[Any, list[str | int], int]] = [(value, [], 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, _Refused):
            raise _bad(path, item.message, what)
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                raise _bad(path, problem, what)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise _bad(path, f"nested deeper than {MAX_DEPTH} levels", what)
        if isinstance(item, list):
            stack.extend((v, [*path, i], depth + 1) for i, v in enumerate(item))
            continue
        for key, child in item.items():
            problem = _string_problem(key)
            if problem:
                raise _bad(path, f"a key {problem}", what)
            child_path = [*path, key]
            if key == "metadata" and isinstance(child, dict | list):
                _check_size(child, child_path, what)
            stack.append((child, child_path, depth + 1))


def _check_size(value: Any, path: list[str | int], what: str) -> None:
    try:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace"))
    except (ValueError, RecursionError):  # refused values inside: the walk names them
        return
    if size > MAX_METADATA_BYTES:
        raise _bad(
            path, f"is {size} bytes as JSON; metadata is capped at {MAX_METADATA_BYTES}", what
        )


def parse_json(raw: bytes | str, *, what: str = "request body") -> Any:
    """``raw`` as JSON, or a 422 naming what is wrong (see the module doc); ``what`` names the
    thing parsed in the message (a request body, a dataset row)."""
    try:
        value = json.loads(
            raw,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError as exc:
        raise _bad([], f"nested deeper than {MAX_DEPTH} levels", what) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = f"not valid JSON (UTF-8): {exc}"
        raise InvalidInputError(
            f"the {what} is {message}",
            errors=[{"index": None, "field": "(body)", "message": message}],
        ) from exc
    _check(value, what)
    return value


PARSED_BODY = "rung.parsed_body"  # request.state: (body, value) as BodyIntakeMiddleware parsed it


async def read_json_body(request: Request) -> Any:
    """The body as checked JSON: what `BodyIntakeMiddleware` parsed (taken once), else parsed
    here."""
    body = await request.body()
    parsed = request.scope.get("state", {}).pop(PARSED_BODY, None)
    if parsed is not None and parsed[0] == body:
        return parsed[1]
    return parse_json(body)


async def read_case_batch(request: Request) -> Any:
    """The list of case items of a batch body: a bare array, or the `cases` of an object."""
    body = await read_json_body(request)
    return body.get("cases") if isinstance(body, dict) else body
