"""The intake every request passes before a route sees it, whatever its content type.

* Body: read up to ``max_bytes`` (413 beyond, from Content-Length or while reading), then parsed
  with `app.core.json_body.parse_json` (422 naming the field: depth, number size, NUL, lone
  surrogates, non-finite numbers, metadata size), then handed on to the route unchanged.
  Streaming uploads (the paths in ``streaming``, e.g. a dataset push) are left alone: they have
  their own cap (``RUNG_MAX_UPLOAD_BYTES``) and their own per-line validation.
* Path and query string: a NUL character, bytes that are not UTF-8 or a path segment over
  `MAX_PATH_SEGMENT` characters are a 422 naming the parameter (PostgreSQL refuses NUL in text;
  it used to answer 500).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import InvalidInputError
from app.core.json_body import PARSED_BODY, parse_json

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_PATH_SEGMENT = 256  # ids, names and sha256 digests are far shorter


class BodyIntakeMiddleware:
    """Caps and checks request bodies; checks paths and query strings (see the module doc)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, streaming: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming = [re.compile(p) for p in streaming]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None:
            await _answer(send, 422, problem)
            return
        path = scope.get("path", "")
        if scope.get("method") not in _BODY_METHODS or any(p.match(path) for p in self.streaming):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, size)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            try:
                value = parse_json(body)
            except InvalidInputError as exc:
                await _answer(send, 422, exc)
                return
            # the route's own reader (`read_json_body`) takes it from here: parsed once
            scope.setdefault("state", {})[PARSED_BODY] = (body, value)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, size: int) -> None:
        await _answer(
            send,
            413,
            InvalidInputError(
                f"request body is over the {self.max_bytes} byte limit (at least {size} "
                "bytes); send smaller batches or raise RUNG_MAX_BODY_BYTES"
            ),
        )


def _url_problem(scope: Scope) -> InvalidInputError | None:
    path = scope.get("path", "")
    if "\x00" in path or "\ufffd" in path:
        message = "contains a NUL character or bytes that are not UTF-8"
        return InvalidInputError(
            f"invalid request path: {message}", errors=[{"field": "(path)", "message": message}]
        )
    if any(len(segment) > MAX_PATH_SEGMENT for segment in path.split("/")):
        message = f"a path segment is over {MAX_PATH_SEGMENT} characters; no id or name is"
        return InvalidInputError(
            f"invalid request path: {message}", errors=[{"field": "(path)", "message": message}]
        )
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                          errors="strict")
    except UnicodeDecodeError:
        message = "the query string is not UTF-8"
        return InvalidInputError(message, errors=[{"field": "(query)", "message": message}])
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            field = name.replace("\x00", "\\u0000")
            message = "contains a NUL character (\\u0000)"
            return InvalidInputError(
                f"invalid query parameter {field}: {message}",
                errors=[{"field": field, "message": message}],
            )
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _answer(send: Send, status: int, error: InvalidInputError) -> None:
    payload: dict[str, Any] = {"detail": error.message, "errors": error.errors}
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
