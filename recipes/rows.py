"""Check and normalise TRL-style data rows.

SFT rows: ``{"messages": [{"role": ..., "content": ...}, ...]}`` ending with an assistant turn,
or ``{"prompt": str | messages, "completion": str | messages}`` (optionally ``"system"``).
Both are normalised to ``{"messages": [...]}``.

DPO rows: ``{"prompt", "chosen", "rejected"}``, each a string or a message list. They are
normalised to the conversational form TRL expects: ``prompt`` a message list ending with a user
turn, ``chosen``/``rejected`` one-element assistant message lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recipes.errors import RecipeConfigError

Message = dict[str, str]
_ROLES = {"system", "user", "assistant", "tool"}


def _messages(value: Any, *, default_role: str, where: str) -> list[Message]:
    if isinstance(value, str):
        return [{"role": default_role, "content": value}]
    if isinstance(value, Sequence) and value and all(isinstance(m, Mapping) for m in value):
        out: list[Message] = []
        for i, message in enumerate(value):
            role, content = message.get("role"), message.get("content")
            if role not in _ROLES:
                raise RecipeConfigError(
                    f"{where}: message {i} has role {role!r}; use one of {sorted(_ROLES)}"
                )
            if not isinstance(content, str):
                raise RecipeConfigError(f"{where}: message {i} content must be a string")
            out.append({"role": str(role), "content": content})
        return out
    raise RecipeConfigError(f"{where}: expected a string or a non-empty list of messages")


def sft_messages(row: Mapping[str, Any], *, index: int = 0) -> list[Message]:
    """The message list of one SFT row (see module doc); RecipeConfigError says what is wrong."""
    where = f"SFT row {index}"
    if not isinstance(row, Mapping):
        raise RecipeConfigError(f"{where}: expected an object, got {type(row).__name__}")
    if "messages" in row:
        messages = _messages(row["messages"], default_role="user", where=where)
    elif "prompt" in row and "completion" in row:
        messages = _messages(row["prompt"], default_role="user", where=where + " prompt")
        messages += _messages(row["completion"], default_role="assistant", where=where)
        system = row.get("system")
        if isinstance(system, str) and system and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system})
    else:
        raise RecipeConfigError(
            f"{where}: needs 'messages' or 'prompt' + 'completion' (keys: {sorted(row)})"
        )
    if messages[-1]["role"] != "assistant":
        raise RecipeConfigError(f"{where}: the last message must be the assistant's answer")
    if not any(m["role"] == "user" for m in messages):
        raise RecipeConfigError(f"{where}: needs at least one user message")
    return messages


def sft_rows(rows: Sequence[Mapping[str, Any]], *, name: str = "train_rows") -> list[dict]:
    """Normalise SFT rows to ``[{"messages": [...]}]``."""
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        raise RecipeConfigError(f"{name} must be a list of rows")
    return [{"messages": sft_messages(row, index=i)} for i, row in enumerate(rows)]


def prompt_completion(messages: list[Message]) -> dict[str, list[Message]]:
    """Split a conversation into TRL's conversational prompt/completion form.

    The last turn becomes the completion; everything before it the prompt."""
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def dpo_row(row: Mapping[str, Any], *, index: int = 0) -> dict[str, list[Message]]:
    """One DPO row in conversational form (see module doc)."""
    where = f"DPO row {index}"
    if not isinstance(row, Mapping):
        raise RecipeConfigError(f"{where}: expected an object, got {type(row).__name__}")
    missing = [k for k in ("prompt", "chosen", "rejected") if k not in row]
    if missing:
        raise RecipeConfigError(f"{where}: missing {missing}; needs prompt, chosen, rejected")
    prompt = _messages(row["prompt"], default_role="user", where=where + " prompt")
    if prompt[-1]["role"] != "user":
        raise RecipeConfigError(f"{where}: the prompt must end with a user message")
    out = {"prompt": prompt}
    for key in ("chosen", "rejected"):
        answer = _messages(row[key], default_role="assistant", where=f"{where} {key}")
        answer = [m for m in answer if m["role"] == "assistant"][-1:]
        if not answer:
            raise RecipeConfigError(f"{where}: {key} has no assistant message")
        out[key] = answer
    if out["chosen"][0]["content"] == out["rejected"][0]["content"]:
        raise RecipeConfigError(f"{where}: chosen and rejected are identical")
    return out


def dpo_rows(rows: Sequence[Mapping[str, Any]], *, name: str = "train_rows") -> list[dict]:
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        raise RecipeConfigError(f"{name} must be a list of rows")
    return [dpo_row(row, index=i) for i, row in enumerate(rows)]
