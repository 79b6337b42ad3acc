"""In-process generation: a transformers causal LM with optional peft LoRA adapters.

Every adapter is loaded once under its name (``PeftModel.load_adapter``); a request picks one by
name and the engine switches to it with ``set_adapter`` under a lock, so requests for different
adapters are served one at a time on the same weights. The base model's own name (or ``base``)
runs with the adapters disabled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

BASE_ALIAS = "base"

# Used only when a tokenizer ships without a chat template.
FALLBACK_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class ServingError(Exception):
    """Base of the engine's errors; ``status`` is the HTTP status the server answers with."""

    status = 400


class UnknownModelError(ServingError):
    status = 404

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"model {name!r} not found; available: {', '.join(available)}")
        self.available = available


class BadRequestError(ServingError):
    status = 400


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str  # "stop" | "length"
    completion_tokens: int


@dataclass(frozen=True)
class GenerationOutput:
    choices: list[Choice]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)


class GenerationEngine:
    """Generate chat completions for the base model and its named adapters."""

    def __init__(
        self, *, model: Any, tokenizer: Any, base_name: str, adapters: list[str] | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.base_name = base_name
        self.adapters = list(adapters or [])
        self._lock = threading.Lock()
        if getattr(tokenizer, "chat_template", None) is None:
            logger.warning("%s has no chat template; using ChatML", base_name)
            tokenizer.chat_template = FALLBACK_CHATML
        self.max_context = int(
            getattr(model.config, "max_position_embeddings", None)
            or getattr(tokenizer, "model_max_length", 2048)
        )

    @classmethod
    def load(
        cls,
        *,
        base: str | Path,
        adapters: Mapping[str, str | Path] | None = None,
        base_name: str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> GenerationEngine:
        """Load the base model (a folder or hub name, offline) and each adapter under its name."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        adapters = dict(adapters or {})
        reserved = {BASE_ALIAS, str(base_name or base)}
        clash = reserved & set(adapters)
        if clash:
            raise BadRequestError(
                f"adapter name(s) {sorted(clash)} are reserved for the base model"
            )
        for name, path in adapters.items():
            if not (Path(path) / "adapter_config.json").is_file():
                raise BadRequestError(
                    f"adapter {name!r}: {path} is not a peft adapter folder "
                    "(no adapter_config.json)"
                )
        tokenizer = AutoTokenizer.from_pretrained(str(base))
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype)
        if adapters:
            from peft import PeftModel

            items = list(adapters.items())
            first_name, first_path = items[0]
            model = PeftModel.from_pretrained(model, str(first_path), adapter_name=first_name)
            for name, path in items[1:]:
                model.load_adapter(str(path), adapter_name=name)
        model.eval()
        return cls(
            model=model,
            tokenizer=tokenizer,
            base_name=str(base_name or base),
            adapters=list(adapters),
        )

    @property
    def model_names(self) -> list[str]:
        """Names a request may ask for: the base's name, ``base``, then every adapter."""
        return [self.base_name, BASE_ALIAS, *self.adapters]

    def _select(self, name: str) -> AbstractContextManager[Any]:
        """Activate ``name`` (call under the lock); returns the context to generate in."""
        if name in (self.base_name, BASE_ALIAS):
            if self.adapters:
                return self.model.disable_adapter()
            return nullcontext()
        if name in self.adapters:
            self.model.set_adapter(name)
            return nullcontext()
        raise UnknownModelError(name, self.model_names)

    def check_model(self, name: str) -> None:
        if name not in self.model_names:
            raise UnknownModelError(name, self.model_names)

    def encode(self, messages: list[dict[str, str]]) -> torch.Tensor:
        """The prompt's token ids (1 x T) through the chat template."""
        try:
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        except Exception as exc:  # jinja errors on odd role orders, for example
            raise BadRequestError(f"the chat template rejected the messages: {exc}") from exc
        return encoded["input_ids"]

    @torch.inference_mode()
    def next_token_logits(self, *, model: str, messages: list[dict[str, str]]) -> torch.Tensor:
        """Logits of the first generated token (for tests and diagnostics)."""
        input_ids = self.encode(messages)
        with self._lock, self._select(model):
            return self.model(input_ids=input_ids).logits[0, -1].clone()

    @torch.inference_mode()
    def generate(
        self,
        *,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        n: int = 1,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> GenerationOutput:
        """Generate ``n`` completions; temperature 0 is greedy."""
        self.check_model(model)
        input_ids = self.encode(messages)
        prompt_tokens = int(input_ids.shape[1])
        if prompt_tokens + max_tokens > self.max_context:
            raise BadRequestError(
                f"prompt ({prompt_tokens} tokens) + max_tokens ({max_tokens}) exceeds the "
                f"model's context of {self.max_context} tokens; shorten the prompt or max_tokens"
            )
        greedy = temperature == 0.0
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": not greedy,
            "pad_token_id": self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id,
            "num_return_sequences": 1 if greedy else n,
        }
        if not greedy:
            kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
        else:  # silence the model's own sampling defaults
            kwargs.update(temperature=None, top_p=None, top_k=None)
        attention_mask = torch.ones_like(input_ids)
        with self._lock, self._select(model):
            if seed is not None:
                torch.manual_seed(seed)
            sequences = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, **kwargs
            )
        new_tokens = sequences[:, prompt_tokens:]
        choices = [self._choice(row, max_tokens=max_tokens, stop=stop) for row in new_tokens]
        if greedy and n > 1:
            choices = choices * n
        return GenerationOutput(choices=choices, prompt_tokens=prompt_tokens)

    def _choice(self, row: torch.Tensor, *, max_tokens: int, stop: list[str] | None) -> Choice:
        eos_ids = self._eos_ids()
        tokens = row.tolist()
        finish = "length"
        for index, token in enumerate(tokens):
            if token in eos_ids:
                tokens = tokens[:index]
                finish = "stop"
                break
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        if finish == "length" and len(tokens) < max_tokens:
            finish = "stop"
        for marker in stop or []:
            cut = text.find(marker)
            if marker and cut != -1:
                text = text[:cut]
                finish = "stop"
        return Choice(text=text, finish_reason=finish, completion_tokens=len(tokens))

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(source)
        return ids
