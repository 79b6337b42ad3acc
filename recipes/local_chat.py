"""A langchain chat model over a local transformers causal LM (optionally with a LoRA adapter).

``LocalChatModel(model_path=...)`` renders the conversation with the model's own chat template,
generates greedily by default, and stops at the end-of-turn token or any ``stop`` string. Models
are loaded once per (path, adapter) per process. Use ``local_chat_model(name_or_path)`` to get
one for a hub name or path resolved like every recipe's ``base_model``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from recipes.base_models import resolve_base_model
from recipes.errors import RecipeEnvironmentError

_ROLE_OF = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load(model_path: str, adapter_path: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    except OSError as exc:
        raise RecipeEnvironmentError(f"cannot load local chat model {model_path}: {exc}") from exc
    if adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_path)
    model.eval()
    return model, tokenizer


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
        import torch

        model, tokenizer = _load(self.model_path, self.adapter_path)
        chat = [{"role": _ROLE_OF.get(m.type, "user"), "content": _text(m)} for m in messages]
        inputs = tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        sample = self.temperature > 0
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": int(kwargs.get("max_new_tokens", self.max_new_tokens)),
            "do_sample": sample,
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
        }
        if sample:
            gen_kwargs["temperature"] = self.temperature
        with _LOCK, torch.no_grad():  # one generation at a time per process: CPU-bound anyway
            output = model.generate(**inputs, **gen_kwargs)
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        text = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
        for s in stop or []:
            if s and s in text:
                text = text[: text.index(s)]
        usage = {
            "input_tokens": int(inputs["input_ids"].shape[1]),
            "output_tokens": int(new_tokens.shape[0]),
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
