"""A chat model plus its identity, generation parameters and cache: what solvers and judges call.

Two kinds of model sit behind `ChatClient`:

* an OpenAI-compatible endpoint (``rung serve-model``, vLLM, OpenAI itself), called with
  `ChatClient.for_endpoint`: each call is one ``POST …/chat/completions`` over httpx, so an eval
  does not pay the openai SDK's and langchain's imports (about 0.9 s of a CLI command; see
  ``bench/eval_vs_promptfoo.py``);
* any langchain ``BaseChatModel`` (``ChatClient(model=…)``): a local model, another provider.

ragas's LLM metrics need a langchain model: `ChatClient.langchain_model` gives the one it was
built with, or builds a ChatOpenAI for the endpoint the first time it is asked.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, Field

from evals.cache import GenerationCache, cache_key

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# statuses worth another try (what the openai SDK retries too)
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class GenerationParams(BaseModel):
    """Sampling parameters sent with every call (None = the model's default)."""

    temperature: float | None = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=256, ge=1)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class Completion:
    text: str
    cached: bool


class ChatEndpointError(Exception):
    """The endpoint answered with an error (``status``) or could not be reached (status None)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRY_STATUSES


@dataclass(kw_only=True)
class OpenAIEndpoint:
    """``POST {endpoint}/chat/completions`` with retries on 408/409/429/5xx and lost connections.

    One httpx connection pool per event loop (an ``asyncio.run`` gets its own); `aclose` closes
    them. `langchain_model` gives a ChatOpenAI with the same settings (for ragas).
    """

    endpoint: str  # the ``…/v1`` base URL
    model: str
    api_key: str = "EMPTY"
    timeout_s: float = 120.0
    max_retries: int = 1
    _clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False
    )

    @property
    def url(self) -> str:
        return self.endpoint.rstrip("/") + "/chat/completions"

    def langchain_model(self) -> BaseChatModel:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=self.endpoint,
            api_key=self.api_key,
            model=self.model,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
        )

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                timeout=self.timeout_s,
                headers={"Authorization": f"Bearer {self.api_key}"},
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def complete(self, messages: list[dict[str, str]], **params: Any) -> str:
        body = {"model": self.model, "messages": messages, **params}
        attempt = 0
        while True:
            try:
                return await self._post(body)
            except ChatEndpointError as exc:
                if not exc.retryable or attempt >= self.max_retries:
                    raise
                attempt += 1
                await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))

    async def _post(self, body: dict[str, Any]) -> str:
        try:
            response = await self._client().post(self.url, json=body)
        except httpx.TransportError as exc:
            raise ChatEndpointError(f"cannot reach {self.url}: {exc!r}") from exc
        if response.status_code >= 400:
            raise ChatEndpointError(
                f"{self.url} answered {response.status_code}: {_error_message(response)}",
                status=response.status_code,
            )
        try:
            choice = response.json()["choices"][0]
            content = choice["message"].get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ChatEndpointError(
                f"{self.url} answered 200 without choices[0].message: {response.text[:200]!r}",
                status=response.status_code,
            ) from exc
        return content if isinstance(content, str) else ""


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if payload.get(key):
                return str(payload[key])
    return str(payload)[:300]


class ChatClient:
    """Calls a chat model with ``params``, through ``cache`` when one is given.

    ``model`` is a langchain ``BaseChatModel``; `for_endpoint` builds a client for an
    OpenAI-compatible endpoint instead.
    """

    def __init__(
        self,
        *,
        model: BaseChatModel | None = None,
        model_name: str,
        endpoint: str | None = None,
        params: GenerationParams | None = None,
        cache: GenerationCache | None = None,
        http: OpenAIEndpoint | None = None,
    ) -> None:
        if (model is None) == (http is None):
            raise ValueError("a ChatClient needs a langchain model or an OpenAI endpoint")
        self.model = model
        self.http = http
        self.model_name = model_name
        self.endpoint = endpoint
        self.params = params or GenerationParams()
        self.cache = cache

    @classmethod
    def for_endpoint(
        cls,
        *,
        endpoint: str,
        model: str,
        api_key: str = "EMPTY",
        params: GenerationParams | None = None,
        cache: GenerationCache | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 1,
    ) -> ChatClient:
        """A client of the OpenAI-compatible ``endpoint`` (its ``…/v1`` base URL)."""
        http = OpenAIEndpoint(
            endpoint=endpoint,
            model=model,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )
        return cls(model_name=model, endpoint=endpoint, params=params, cache=cache, http=http)

    @property
    def model_id(self) -> str:
        """``model@endpoint`` (or just the model name): the identity used in cache keys."""
        return f"{self.model_name}@{self.endpoint}" if self.endpoint else self.model_name

    def langchain_model(self) -> BaseChatModel:
        """The langchain model (ragas's LLM metrics need one); built once for an endpoint."""
        if self.model is None:
            assert self.http is not None
            self.model = self.http.langchain_model()
        return self.model

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        kwargs = self.params.as_kwargs()
        key = cache_key(model=self.model_id, messages=messages, params=kwargs)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None and isinstance(hit.get("text"), str):
                return Completion(text=hit["text"], cached=True)
        if self.http is not None:
            text = await self.http.complete(messages, **kwargs)
        else:
            from langchain_core.messages import convert_to_messages

            assert self.model is not None
            reply = await self.model.ainvoke(convert_to_messages(messages), **kwargs)
            text = reply.text
        if self.cache is not None:
            self.cache.put(key, {"text": text, "model": self.model_id, "params": kwargs})
        return Completion(text=text, cached=False)

    async def aclose(self) -> None:
        """Close this event loop's connections to the endpoint (no-op for a langchain model)."""
        if self.http is not None:
            await self.http.aclose()
