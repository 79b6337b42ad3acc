"""An OpenAI-compatible HTTP API over the batching engine: /v1/chat/completions and /v1/models.

Concurrent requests are generated together (`recipes.batching`); ``"stream": true`` answers with
server-sent events in OpenAI's chunk format (``chat.completion.chunk`` objects, then
``data: [DONE]``; a last chunk with ``usage`` when ``stream_options.include_usage`` is set).

Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: 400 for invalid
requests (validation errors included, not FastAPI's default 422), 404 for an unknown model name
(the message lists the available ones).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.serving.engine import (
    BatchingEngine,
    Delta,
    GenerationEngine,
    GenerationOutput,
    PendingGeneration,
    ServingError,
    UnknownModelError,
    as_batching,
)

MAX_N = 8


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(
                part.get("text", "") for part in self.content if part.get("type") == "text"
            )
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=MAX_N)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    def token_limit(self, default: int) -> int:
        return self.max_completion_tokens or self.max_tokens or default

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


def _error(status: int, message: str, *, code: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": kind, "param": param, "code": code}},
    )


def _usage(output: GenerationOutput) -> dict[str, int]:
    return {
        "prompt_tokens": output.prompt_tokens,
        "completion_tokens": output.completion_tokens,
        "total_tokens": output.prompt_tokens + output.completion_tokens,
    }


def _completion(model: str, output: GenerationOutput) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": choice.text},
                "finish_reason": choice.finish_reason,
                "logprobs": None,
            }
            for index, choice in enumerate(output.choices)
        ],
        "usage": _usage(output),
    }


async def _sse(
    pending: PendingGeneration, *, model: str, n: int, include_usage: bool
) -> AsyncIterator[str]:
    """OpenAI's stream: a role chunk per choice, content deltas, finish reasons, [DONE]."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk"}
    base |= {"created": int(time.time()), "model": model}

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n"

    for index in range(n):
        delta = {"role": "assistant", "content": ""}
        yield chunk([{"index": index, "delta": delta, "finish_reason": None, "logprobs": None}])
    while True:
        try:
            event = await run_in_threadpool(pending.next_event)
        except ServingError as exc:
            error = {"message": str(exc), "type": "invalid_request_error", "code": None}
            yield f"data: {json.dumps({'error': error})}\n\n"
            return
        if isinstance(event, Delta):
            delta = {"content": event.text}
            yield chunk(
                [{"index": event.choice, "delta": delta, "finish_reason": None, "logprobs": None}]
            )
            continue
        for index, choice in enumerate(event.choices):
            yield chunk(
                [
                    {
                        "index": index,
                        "delta": {},
                        "finish_reason": choice.finish_reason,
                        "logprobs": None,
                    }
                ]
            )
        if include_usage:
            yield chunk([], usage=_usage(event))
        yield "data: [DONE]\n\n"
        return


def create_app(
    engine: GenerationEngine | BatchingEngine, *, default_max_tokens: int = 256
) -> FastAPI:
    """The FastAPI app serving ``engine`` (a GenerationEngine is wrapped in a BatchingEngine)."""
    batching = as_batching(engine)
    app = FastAPI(title="rung serve-model", version="1")
    app.state.engine = batching
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        message = f"{'.'.join(loc) or 'body'}: {first.get('msg')}"
        return _error(400, message, code="invalid_request", param=".".join(loc) or None)

    @app.exception_handler(ServingError)
    async def _serving(request: Request, exc: ServingError) -> JSONResponse:
        code = "model_not_found" if isinstance(exc, UnknownModelError) else "invalid_request"
        param = "model" if isinstance(exc, UnknownModelError) else None
        return _error(exc.status, str(exc), code=code, param=param)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": batching.model_names}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": created, "owned_by": "rung"}
                for name in batching.model_names
            ],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest) -> Any:
        batching.check_model(body.model)
        messages = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in body.messages
        ]
        pending = await run_in_threadpool(
            lambda: batching.submit(
                model=body.model,
                messages=messages,
                max_tokens=body.token_limit(default_max_tokens),
                temperature=body.temperature,
                top_p=body.top_p,
                n=body.n,
                seed=body.seed,
                stop=body.stops(),
                stream=body.stream,
            )
        )
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            stream = _sse(pending, model=body.model, n=body.n, include_usage=include_usage)
            return StreamingResponse(stream, media_type="text/event-stream")
        output = await run_in_threadpool(pending.result)
        return _completion(body.model, output)

    return app
