"""Chat templates that mark the assistant turn with ``{% generation %}`` for assistant-only loss.

`training_chat_template` returns a template that renders exactly like the tokenizer's own but
wraps assistant content in generation markers, trying in order:

1. the tokenizer's template, when it already has the markers;
2. TRL's patched template for the families it knows (Llama 3, Qwen, Gemma, Phi, ...);
3. a patch of the plain ChatML loop used by SmolLM2 and many small models
   (``'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'``).

Each candidate is checked by rendering a sample conversation with both templates and comparing
the text, and by asking for the assistant mask. ``None`` means no safe patch exists; the SFT
recipes then fall back to completion-only loss on the last assistant turn and say so.
"""

from __future__ import annotations

import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

_CHATML_LOOP = re.compile(
    r"\{\{-?\s*'<\|im_start\|>'\s*\+\s*message\[['\"]role['\"]\]\s*\+\s*'(?:\\n|\n)'\s*\+\s*"
    r"message\[['\"]content['\"]\]\s*\+\s*'<\|im_end\|>'\s*\+\s*'(?:\\n|\n)'\s*-?\}\}"
)
_CHATML_REPLACEMENT = (
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endif %}"
)

_SAMPLE = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Bye"},
    {"role": "assistant", "content": "Goodbye."},
]


def has_generation_markers(template: Any) -> bool:
    return isinstance(template, str) and "{% generation %}" in template.replace("{%-", "{%")


def training_chat_template(tokenizer: Any) -> tuple[str | None, str]:
    """(template with generation markers or None, how it was obtained)."""
    template = tokenizer.chat_template
    if isinstance(template, dict):
        template = template.get("default")
    if not isinstance(template, str):
        return None, "the tokenizer has no chat template"
    if has_generation_markers(template):
        return template, "the tokenizer's own template has generation markers"
    candidates: list[tuple[str, str]] = []
    try:
        from trl.chat_template_utils import get_training_chat_template

        patched = get_training_chat_template(tokenizer)
        if patched:
            candidates.append((patched, "TRL's training template for this model family"))
    except (ValueError, TypeError, ImportError) as exc:
        logger.debug("TRL cannot patch this template: %s", exc)
    if _CHATML_LOOP.search(template):
        patched = _CHATML_LOOP.sub(lambda _m: _CHATML_REPLACEMENT, template, count=1)
        candidates.append((patched, "the ChatML template patched with generation markers"))
    for candidate, how in candidates:
        if _renders_like(tokenizer, template, candidate):
            return candidate, how
    return None, "no generation-marker version of this chat template is known"


def _renders_like(tokenizer: Any, original: str, candidate: str) -> bool:
    try:
        for messages in (_SAMPLE, _SAMPLE[1:]):
            a = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=original)
            b = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=candidate)
            if a != b:
                return False
        out = tokenizer.apply_chat_template(
            _SAMPLE,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
            chat_template=candidate,
        )
    except Exception as exc:  # a template error means the candidate is unusable
        logger.debug("candidate template failed to render: %s", exc)
        return False
    return sum(out["assistant_masks"]) > 0
