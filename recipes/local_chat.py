"""A langchain chat model over a local transformers causal LM (optionally with a LoRA adapter).

``LocalChatModel(model_path=...)`` renders the conversation with the model's own chat template,
generates greedily by default, and stops at the end-of-turn token or any ``stop`` string. It
generates through the project's one generation module (`recipes.generation`, batched by
`recipes.batching` like `rung serve-model`); models are loaded once per (path, adapter) per
process, so it also serves as a local judge model (`evals.chat.ChatClient` takes any chat model).
Use ``local_chat_model(name_or_path)`` to get one for a hub name or path resolved like every
recipe's ``base_model``.
"""

from __future__ import annotations

import functools
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from recipes.base_models import resolve_base_model
from recipes.batching import BatchingEngine
from recipes.errors import RecipeConfigError, RecipeEnvironmentError
from recipes.generation import BASE_ALIAS, GenerationEngine, ServingError

_ROLE_OF = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


ADAPTER_NAME = "adapter"


@functools.lru_cache(maxsize=4)
def local_engine(model_path: str, adapter_path: str | None = None) -> BatchingEngine:
    """The shared generation engine for (model, adapter), loaded once per process.

    Concurrent callers (threads, ``abatch``) are batched together like the model server's.
    """
    adapters = {ADAPTER_NAME: adapter_path} if adapter_path else {}
    try:
        engine = GenerationEngine.load(base=model_path, adapters=adapters, base_name=model_path)
    except (OSError, ServingError) as exc:
        raise RecipeEnvironmentError(f"cannot load local chat model {model_path}: {exc}") from exc
    return BatchingEngine(engine)


class LocalChatModel(BaseChatModel):
    """Chat with a local transformers model through its chat template."""

    model_path: str = Field(description="local model folder (see resolve_base_model)")
    adapter_path: str | None = Field(default=None, description="optional LoRA adapter folder")
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, description="0: greedy, reproducible")

    @property
    def _llm_type(self) -> str:
        return "rung-local-transformers"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "adapter_path": self.adapter_path,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        engine = local_engine(self.model_path, self.adapter_path)
        chat = [{"role": _ROLE_OF.get(m.type, "user"), "content": _text(m)} for m in messages]
        try:
            output = engine.generate(
                model=ADAPTER_NAME if self.adapter_path else BASE_ALIAS,
                messages=chat,
                max_tokens=int(kwargs.get("max_new_tokens", self.max_new_tokens)),
                temperature=self.temperature,
                stop=stop,
            )
        except ServingError as exc:
            raise RecipeConfigError(str(exc)) from exc
        text = output.choices[0].text.strip()
        usage = {
            "input_tokens": output.prompt_tokens,
            "output_tokens": output.completion_tokens,
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        message = AIMessage(content=text, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content
    )


def local_chat_model(
    name_or_path: str, *, adapter_path: str | None = None, max_new_tokens: int = 256
) -> LocalChatModel:
    """A `LocalChatModel` for a hub name or folder (the default model resolves offline)."""
    return LocalChatModel(
        model_path=str(resolve_base_model(name_or_path)),
        adapter_path=adapter_path,
        max_new_tokens=max_new_tokens,
    )
