"""A chat model plus its identity, generation parameters and cache: what solvers and judges call.

Any langchain ``BaseChatModel`` works; `openai_chat_model` builds one for an OpenAI-compatible
endpoint (``rung serve-model``, vLLM, OpenAI itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import convert_to_messages
from pydantic import BaseModel, Field

from evals.cache import GenerationCache, cache_key


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


class ChatClient:
    """Calls ``model`` with ``params``, through ``cache`` when one is given."""

    def __init__(
        self,
        *,
        model: BaseChatModel,
        model_name: str,
        endpoint: str | None = None,
        params: GenerationParams | None = None,
        cache: GenerationCache | None = None,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.endpoint = endpoint
        self.params = params or GenerationParams()
        self.cache = cache

    @property
    def model_id(self) -> str:
        """``model@endpoint`` (or just the model name): the identity used in cache keys."""
        return f"{self.model_name}@{self.endpoint}" if self.endpoint else self.model_name

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        kwargs = self.params.as_kwargs()
        key = cache_key(model=self.model_id, messages=messages, params=kwargs)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None and isinstance(hit.get("text"), str):
                return Completion(text=hit["text"], cached=True)
        reply = await self.model.ainvoke(convert_to_messages(messages), **kwargs)
        text = reply.text
        if self.cache is not None:
            self.cache.put(key, {"text": text, "model": self.model_id, "params": kwargs})
        return Completion(text=text, cached=False)


def openai_chat_model(
    *,
    endpoint: str,
    model: str,
    api_key: str = "EMPTY",
    timeout_s: float = 120.0,
    max_retries: int = 1,
) -> BaseChatModel:
    """A langchain ChatOpenAI for an OpenAI-compatible ``endpoint`` (its ``.../v1`` base URL)."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=endpoint,
        api_key=api_key,
        model=model,
        timeout=timeout_s,
        max_retries=max_retries,
    )
