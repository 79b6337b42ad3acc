"""Local generation: one transformers causal LM plus named peft LoRA adapters, generated in batches.

This is the one generation module of the project: `rung serve-model` (through
`recipes.batching.BatchingEngine`), the recipes' `LocalChatModel` and a local judge all generate
here. ``GenerationEngine.generate_batch`` runs several requests for the same weights and
sampling settings as one left-padded ``model.generate`` call, with per-row token limits and a
per-step callback for streaming; `recipes.batching` decides which requests go together.

Every adapter is loaded once under its name (``PeftModel.load_adapter``); a batch picks one by
name with ``set_adapter`` under a lock. The base model's own name (or ``base``) runs with the
adapters disabled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
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
    """Base of the engine's errors; ``status`` is the HTTP status a server answers with."""

    status = 400


class UnknownModelError(ServingError):
    status = 404

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"model {name!r} not found; available: {', '.join(available)}")
        self.available = available


class BadRequestError(ServingError):
    status = 400


@dataclass(frozen=True)
class SamplingParams:
    """How one request is generated; temperature 0 is greedy."""

    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def batch_key(self) -> tuple[Any, ...]:
        """Requests with equal keys may share one ``generate`` call (the batching engine
        generates a seeded sampling request alone, so that its seed reproduces its output)."""
        if self.greedy:
            return ("greedy",)
        return ("sample", self.temperature, self.top_p, self.seed)


@dataclass
class PreparedRequest:
    """A validated request: its weights' name, prompt ids and sampling settings."""

    model: str
    input_ids: list[int]
    params: SamplingParams

    @property
    def rows(self) -> int:
        """Sequences generated: one for greedy (copied ``n`` times), else ``n``."""
        return 1 if self.params.greedy else self.params.n


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


# on_step(request_index, choice_index, token_ids_so_far): called after every new token of a row.
StepCallback = Callable[[int, int, list[int]], None]


@dataclass
class _Row:
    request: int
    choice: int
    limit: int
    tokens: list[int] = field(default_factory=list)
    done: bool = False
    done_by_eos: bool = False


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
        self.pad_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.eos_ids = self._eos_ids()

    @classmethod
    def load(
        cls,
        *,
        base: str | Path,
        adapters: Mapping[str, str | Path] | None = None,
        base_name: str | None = None,
        dtype: torch.dtype = torch.float32,
        device: str = "cpu",
    ) -> GenerationEngine:
        """Load the base model (a folder or hub name, offline) and each adapter under its name,
        on ``device`` (``cpu``, ``cuda``; ``auto``: CUDA when there is one)."""
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
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model.to(device)
        model.eval()
        return cls(
            model=model,
            tokenizer=tokenizer,
            base_name=str(base_name or base),
            adapters=list(adapters),
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

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

    def weights_key(self, name: str) -> str:
        """The weights ``name`` runs on (the base's name and ``base`` are the same)."""
        return BASE_ALIAS if name in (self.base_name, BASE_ALIAS) else name

    def encode(self, messages: list[dict[str, str]]) -> torch.Tensor:
        """The prompt's token ids (1 x T) through the chat template."""
        try:
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        except Exception as exc:  # jinja errors on odd role orders, for example
            raise BadRequestError(f"the chat template rejected the messages: {exc}") from exc
        return encoded["input_ids"]

    def prepare(
        self, *, model: str, messages: list[dict[str, str]], params: SamplingParams
    ) -> PreparedRequest:
        """Check the model name and the context length; raises a ServingError otherwise."""
        self.check_model(model)
        input_ids = self.encode(messages)[0].tolist()
        if len(input_ids) + params.max_tokens > self.max_context:
            raise BadRequestError(
                f"prompt ({len(input_ids)} tokens) + max_tokens ({params.max_tokens}) exceeds "
                f"the model's context of {self.max_context} tokens; shorten the prompt or "
                "max_tokens"
            )
        return PreparedRequest(model=model, input_ids=input_ids, params=params)

    @torch.inference_mode()
    def next_token_logits(self, *, model: str, messages: list[dict[str, str]]) -> torch.Tensor:
        """Logits of the first generated token (for tests and diagnostics)."""
        input_ids = self.encode(messages)
        with self._lock, self._select(model):
            return self.model(input_ids=input_ids.to(self.device)).logits[0, -1].cpu().clone()

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
        stop: Sequence[str] | None = None,
    ) -> GenerationOutput:
        """Generate ``n`` completions for one request (a batch of one)."""
        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            n=n,
            seed=seed,
            stop=tuple(stop or ()),
        )
        request = self.prepare(model=model, messages=messages, params=params)
        return self.generate_batch([request])[0]

    @torch.inference_mode()
    def generate_batch(
        self, requests: Sequence[PreparedRequest], *, on_step: StepCallback | None = None
    ) -> list[GenerationOutput]:
        """Generate ``requests`` together: same weights and ``batch_key`` (else ValueError)."""
        if not requests:
            return []
        first = requests[0]
        weights = self.weights_key(first.model)
        key = first.params.batch_key()
        if any(
            self.weights_key(r.model) != weights or r.params.batch_key() != key for r in requests
        ):
            raise ValueError("a batch mixes weights or sampling settings")
        rows: list[_Row] = []
        prompts: list[list[int]] = []
        for index, request in enumerate(requests):
            for choice in range(request.rows):
                rows.append(_Row(request=index, choice=choice, limit=request.params.max_tokens))
                prompts.append(request.input_ids)
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts])
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(r.limit for r in rows),
            "pad_token_id": self.pad_id,
            "streamer": _RowStreamer(rows, self.eos_ids, on_step),
            "stopping_criteria": [_RowsDone(rows)],
        }
        if first.params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(
                do_sample=True, temperature=first.params.temperature, top_p=first.params.top_p
            )
            kwargs["top_k"] = 0
        with self._lock, self._select(first.model):
            if first.params.seed is not None:
                torch.manual_seed(first.params.seed)
            self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                **kwargs,
            )
        outputs: list[GenerationOutput] = []
        for index, request in enumerate(requests):
            choices = [self._choice(r, request.params) for r in rows if r.request == index]
            if request.params.greedy and request.params.n > 1:
                choices = choices * request.params.n
            outputs.append(GenerationOutput(choices=choices, prompt_tokens=len(request.input_ids)))
        return outputs

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _choice(self, row: _Row, params: SamplingParams) -> Choice:
        text = self.decode(row.tokens)
        finish = "length" if len(row.tokens) >= row.limit and not row.done_by_eos else "stop"
        cut = cut_at_stop(text, params.stop)
        if cut is not None:
            text, finish = text[:cut], "stop"
        return Choice(text=text, finish_reason=finish, completion_tokens=len(row.tokens))

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(source)
        return ids


def cut_at_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the first stop string in ``text`` (None when there is none)."""
    cuts = [text.find(s) for s in stops if s and s in text]
    return min(cuts) if cuts else None


class _RowStreamer:
    """Receives each step's tokens from ``generate`` and files them per row (eos and limits)."""

    def __init__(self, rows: list[_Row], eos_ids: set[int], on_step: StepCallback | None) -> None:
        self.rows = rows
        self.eos_ids = eos_ids
        self.on_step = on_step
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate first sends the prompt ids
            self._prompt_seen = True
            return
        for row, token in zip(self.rows, value.reshape(-1).tolist(), strict=True):
            if row.done:
                continue
            if token in self.eos_ids:
                row.done = True
                row.done_by_eos = True
                continue
            row.tokens.append(token)
            if len(row.tokens) >= row.limit:
                row.done = True
            if self.on_step is not None:
                self.on_step(row.request, row.choice, row.tokens)

    def end(self) -> None:
        for row in self.rows:
            row.done = True


class _RowsDone:
    """A stopping criterion: a row is finished at its eos or its own token limit."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        return torch.tensor([r.done for r in self.rows], dtype=torch.bool, device=input_ids.device)
