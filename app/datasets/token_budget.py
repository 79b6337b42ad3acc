"""Count the tokens of a row against the base model's context, or estimate them.

With a base model whose tokenizer loads offline (`recipes.base_models.resolve_base_model`), rows
are tokenized with its chat template. A row whose UTF-8 length (plus a per-turn allowance for
the template) is under the budget cannot exceed it, since a token covers at least one byte, so
only longer rows are tokenized. Such a row's count is that byte bound, not a token count, and
the report says which one its largest count is (``max_seen_is``). Without a tokenizer the count
is estimated as characters / 4, and the report says so.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_BUDGET = 2048
TURN_OVERHEAD_TOKENS = 8
_SANE_MAX = 1_000_000


BYTE_BOUND = (
    f"upper bound: UTF-8 bytes + {TURN_OVERHEAD_TOKENS} per turn (a token covers at least one "
    "byte); rows within the budget by this bound are not tokenized"
)


@dataclass
class TokenCounter:
    budget: int
    method: str
    tokenizer: Any | None = None
    last_kind: str = "estimate"  # what the last count was: tokens, upper bound or estimate

    def count(self, conversation: list[dict[str, str]]) -> int:
        overhead = TURN_OVERHEAD_TOKENS * len(conversation)
        if self.tokenizer is None:
            chars = sum(len(m["content"]) for m in conversation)
            self.last_kind = "estimate"
            return math.ceil(chars / 4) + overhead
        upper = sum(len(m["content"].encode()) for m in conversation) + overhead
        if upper <= self.budget:
            self.last_kind = BYTE_BOUND
            return upper  # an upper bound under the budget: no need to tokenize
        self.last_kind = "tokens"
        return self._tokenize(conversation)

    def _tokenize(self, conversation: list[dict[str, str]]) -> int:
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            try:
                ids = tokenizer.apply_chat_template(conversation, tokenize=True)
                if hasattr(ids, "keys"):
                    ids = ids["input_ids"]
                return len(ids)
            except Exception:  # a template that rejects this role order: count the text
                logger.debug("chat template failed; counting plain text", exc_info=True)
        text = "\n".join(m["content"] for m in conversation)
        return len(tokenizer(text)["input_ids"]) + TURN_OVERHEAD_TOKENS * len(conversation)

    def describe(self) -> dict[str, Any]:
        return {"budget": self.budget, "method": self.method}


def token_counter(
    *, base_model: str | None, max_tokens: int | None, models_dir: Path | None = None
) -> TokenCounter:
    """A counter for ``base_model`` (its tokenizer when it loads offline), else chars / 4.
    ``models_dir``: where the default base model is converted (RUNG_MODELS_DIR)."""
    if not base_model:
        return TokenCounter(
            budget=max_tokens or DEFAULT_TOKEN_BUDGET,
            method="estimate: characters / 4 (no base model given)",
        )
    tokenizer, budget, why = _load(base_model, models_dir)
    if tokenizer is None:
        return TokenCounter(
            budget=max_tokens or budget or DEFAULT_TOKEN_BUDGET,
            method=f"estimate: characters / 4 (tokenizer of {base_model} unavailable: {why})",
        )
    return TokenCounter(
        budget=max_tokens or budget or DEFAULT_TOKEN_BUDGET,
        method=f"tokenizer of {base_model}",
        tokenizer=tokenizer,
    )


@lru_cache(maxsize=8)
def _load(base_model: str, models_dir: Path | None) -> tuple[Any | None, int | None, str]:
    """(tokenizer or None, context length or None, why not) for a base model, cached."""
    try:
        from transformers import AutoTokenizer

        from recipes.base_models import resolve_base_model

        source = resolve_base_model(base_model, cache_dir=models_dir)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:  # offline, missing files, conversion failure: estimate instead
        return None, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return tokenizer, _context_length(tokenizer, source), ""


def _context_length(tokenizer: Any, source: Path | str) -> int | None:
    length = getattr(tokenizer, "model_max_length", None)
    if isinstance(length, int) and 0 < length < _SANE_MAX:
        return length
    config = Path(source) / "config.json" if isinstance(source, Path) else None
    if config is not None and config.is_file():
        value = json.loads(config.read_text()).get("max_position_embeddings")
        if isinstance(value, int) and value > 0:
            return value
    return None
