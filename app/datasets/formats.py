"""Detect the format of one dataset row and turn it into Rung's normal form.

Formats recognised per row (the first row sets the file's format family; see `FAMILIES`):

* ``conversational``: TRL conversational ``{"messages": [{"role", "content"}, ...]}``
* ``openai_chat``: OpenAI fine-tuning chat JSONL (``messages`` with system/user/assistant turns;
  recognised by OpenAI-only keys such as a message ``weight`` or top-level ``tools``)
* ``prompt_completion``: ``{"prompt", "completion"}`` (strings or message lists)
* ``preference``: TRL ``{"prompt", "chosen", "rejected"}`` (strings or message lists)
* ``openai_dpo``: ``{"input": {"messages": [...]}, "preferred_output": [...],
  "non_preferred_output": [...]}``
* ``rung_case``: a Rung failure case (``{"input", "output", "expected", ...}`` or a labelled
  ``{"case": {...}, "label": {...}}``). With ``expected`` it becomes an SFT pair (user=input,
  assistant=expected), or a DPO pair (prompt=input, chosen=expected, rejected=output) when the
  dataset is a preference dataset. A case is a preference case when its source is ``ab_test`` or
  ``pairwise_review`` or its label is ``preference``/``dpo``; the first case decides the kind of
  a file pushed without ``--kind``.
* ``documents``: ``{"id", "text", "metadata"}`` rows for RAG (and whole .txt/.md files).

Normal form (one canonical JSON object per line):

* SFT: ``{"messages": [{"role", "content"}, ...], "metadata"?: {...}}``
* preference: ``{"prompt": [messages], "chosen": [assistant message], "rejected": [...],
  "metadata"?: {...}}``
* documents: ``{"id": str, "text": str, "metadata": {...}}``

Every message is reduced to ``role`` and ``content`` (OpenAI ``weight``/``name`` are dropped);
``metadata`` is kept only when it is a non-empty object, so that ``metadata.synthetic`` survives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["sft", "preference", "documents"]
KINDS: tuple[str, ...] = ("sft", "preference", "documents")
ROLES = ("system", "user", "assistant", "tool")
PREFERENCE_SOURCES = frozenset({"ab_test", "pairwise_review"})

# Formats in one family may be mixed in a file (they are the same shape).
FAMILIES: dict[str, str] = {
    "conversational": "chat",
    "openai_chat": "chat",
    "prompt_completion": "prompt_completion",
    "preference": "preference",
    "openai_dpo": "openai_dpo",
    "rung_case": "rung_case",
    "documents": "documents",
}
FORMAT_KIND: dict[str, str] = {
    "conversational": "sft",
    "openai_chat": "sft",
    "prompt_completion": "sft",
    "preference": "preference",
    "openai_dpo": "preference",
    "documents": "documents",
}
_OPENAI_TOP_KEYS = frozenset({"tools", "functions", "parallel_tool_calls"})
_OPENAI_MESSAGE_KEYS = frozenset({"weight", "name", "tool_calls", "function_call"})


class RowError(ValueError):
    """A row that cannot be used. ``check`` is the report's code for it."""

    def __init__(self, message: str, *, check: str = "shape") -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class Normalised:
    format: str
    kind: str
    row: dict[str, Any]
    # The part that must not appear in both splits (the prompt); used for the hash split.
    prompt_key: str


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept; the basis of every content hash."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def detect_format(obj: Any) -> str:
    """The format name of one parsed row; RowError when the shape is not recognised."""
    if not isinstance(obj, dict):
        raise RowError(f"expected a JSON object, got {type(obj).__name__}")
    keys = set(obj)
    if "messages" in keys:
        messages = obj["messages"]
        openai = bool(keys & _OPENAI_TOP_KEYS) or (
            isinstance(messages, list)
            and any(isinstance(m, dict) and set(m) & _OPENAI_MESSAGE_KEYS for m in messages)
        )
        return "openai_chat" if openai else "conversational"
    if {"input", "preferred_output", "non_preferred_output"} <= keys:
        return "openai_dpo"
    if {"prompt", "chosen", "rejected"} <= keys:
        return "preference"
    if {"prompt", "completion"} <= keys:
        return "prompt_completion"
    if "case" in keys and isinstance(obj.get("case"), dict):
        return "rung_case"
    if {"input", "output"} <= keys and isinstance(obj.get("input"), str):
        return "rung_case"
    if "text" in keys and isinstance(obj.get("text"), str):
        return "documents"
    raise RowError(
        f"unrecognised row shape (keys: {', '.join(sorted(keys)) or 'none'}); expected messages, "
        "prompt+completion, prompt+chosen+rejected, input+preferred_output+non_preferred_output, "
        "a Rung case (input, output, expected) or a document (id, text, metadata)"
    )


def is_preference_case(obj: dict[str, Any]) -> bool:
    case = obj.get("case") if isinstance(obj.get("case"), dict) else obj
    label = obj.get("label") if isinstance(obj.get("label"), dict) else {}
    meta = case.get("metadata") if isinstance(case.get("metadata"), dict) else {}
    return (
        case.get("source") in PREFERENCE_SOURCES
        or label.get("subcategory") == "preference"
        or label.get("fix") == "dpo"
        or meta.get("label") == "preference"
    )


def kind_of(fmt: str, obj: dict[str, Any]) -> str:
    """The dataset kind a row of this format implies when the user gave none."""
    if fmt == "rung_case":
        return "preference" if is_preference_case(obj) else "sft"
    return FORMAT_KIND[fmt]


def normalise(obj: Any, *, fmt: str, kind: str, line: int) -> Normalised:
    """Turn one row of format ``fmt`` into the normal form of ``kind``; RowError otherwise."""
    metadata = _metadata(obj)
    if kind == "documents":
        if fmt != "documents":
            raise _wrong_kind(fmt, kind)
        return _document(obj, metadata, line=line)
    if fmt == "rung_case":
        return _case(obj, kind=kind)
    if FORMAT_KIND.get(fmt) != kind:
        raise _wrong_kind(fmt, kind)
    if fmt in ("conversational", "openai_chat"):
        messages = _messages(obj["messages"], field="messages", default_role="user")
        _check_sft(messages)
        row: dict[str, Any] = {"messages": messages}
    elif fmt == "prompt_completion":
        messages = _messages(obj["prompt"], field="prompt", default_role="user")
        messages += _messages(obj["completion"], field="completion", default_role="assistant")
        system = obj.get("system")
        if isinstance(system, str) and system.strip() and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system})
        _check_sft(messages)
        row = {"messages": messages}
    elif fmt == "preference":
        row = _pair(
            _messages(obj["prompt"], field="prompt", default_role="user"),
            obj["chosen"],
            obj["rejected"],
            names=("chosen", "rejected"),
        )
    elif fmt == "openai_dpo":
        source = obj["input"]
        if not isinstance(source, dict) or "messages" not in source:
            raise RowError("input must be an object with a messages list")
        row = _pair(
            _messages(source["messages"], field="input.messages", default_role="user"),
            obj["preferred_output"],
            obj["non_preferred_output"],
            names=("preferred_output", "non_preferred_output"),
        )
    else:  # pragma: no cover - detect_format only returns the names above
        raise RowError(f"format {fmt} cannot be normalised")
    if metadata:
        row["metadata"] = metadata
    return Normalised(fmt, kind, row, prompt_key=_prompt_key(row))


def _wrong_kind(fmt: str, kind: str) -> RowError:
    return RowError(
        f"this row is {fmt} data ({FORMAT_KIND.get(fmt, 'training')} rows), not {kind} rows; "
        f"push it with --kind {FORMAT_KIND.get(fmt, 'sft')} or fix the file",
        check="shape",
    )


def _metadata(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        return {}
    source = obj.get("case") if isinstance(obj.get("case"), dict) else obj
    meta = source.get("metadata")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise RowError("metadata must be an object")
    return meta


def _content(value: Any, *, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts: [{"type": "text", "text": "..."}]
        texts = []
        for part in value:
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise RowError(f"{field}: only text content parts are supported")
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise RowError(f"{field}: content must be a string")


def _messages(value: Any, *, field: str, default_role: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        if not value.strip():
            raise RowError(f"{field} is empty", check="empty_turn")
        return [{"role": default_role, "content": value}]
    if not isinstance(value, list) or not value:
        raise RowError(f"{field} must be a string or a non-empty list of messages")
    out: list[dict[str, str]] = []
    for i, message in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(message, dict):
            raise RowError(f"{where} must be an object with role and content")
        role = message.get("role")
        if role == "developer":
            role = "system"
        if role not in ROLES:
            raise RowError(f"{where}.role is {role!r}; use one of {', '.join(ROLES)}")
        content = _content(message.get("content"), field=f"{where}.content")
        if not content.strip():
            raise RowError(f"{where} ({role}) has empty content", check="empty_turn")
        out.append({"role": role, "content": content})
    return out


def _check_sft(messages: list[dict[str, str]]) -> None:
    if not any(m["role"] == "user" for m in messages):
        raise RowError("the conversation has no user turn")
    if messages[-1]["role"] != "assistant":
        raise RowError("the conversation must end with the assistant's answer")


def _answer(value: Any, *, field: str) -> list[dict[str, str]]:
    messages = _messages(value, field=field, default_role="assistant")
    answers = [m for m in messages if m["role"] == "assistant"]
    if not answers:
        raise RowError(f"{field} has no assistant message")
    return answers[-1:]


def _pair(
    prompt: list[dict[str, str]], chosen: Any, rejected: Any, *, names: tuple[str, str]
) -> dict[str, Any]:
    if prompt[-1]["role"] != "user":
        raise RowError("the prompt must end with a user turn")
    good = _answer(chosen, field=names[0])
    bad = _answer(rejected, field=names[1])
    if good[0]["content"] == bad[0]["content"]:
        raise RowError(f"{names[0]} and {names[1]} are identical")
    return {"prompt": prompt, "chosen": good, "rejected": bad}


def _case(obj: dict[str, Any], *, kind: str) -> Normalised:
    case = obj["case"] if isinstance(obj.get("case"), dict) else obj
    question, bad, expected = case.get("input"), case.get("output"), case.get("expected")
    if not isinstance(question, str) or not question.strip():
        raise RowError("case input is empty", check="empty_turn")
    if not isinstance(expected, str) or not expected.strip():
        raise RowError(
            "the case has no expected answer, so it cannot become a training example; "
            "add `expected` or leave the case out"
        )
    metadata = _metadata(obj)
    prompt = [{"role": "user", "content": question}]
    if kind == "preference":
        if not isinstance(bad, str) or not bad.strip():
            raise RowError("a preference case needs the bad output as `output`", check="empty_turn")
        row = _pair(prompt, expected, bad, names=("expected", "output"))
    elif kind == "sft":
        row = {"messages": [*prompt, {"role": "assistant", "content": expected}]}
    else:
        raise _wrong_kind("rung_case", kind)
    if metadata:
        row["metadata"] = metadata
    return Normalised("rung_case", kind, row, prompt_key=_prompt_key(row))


def _document(obj: Any, metadata: dict[str, Any], *, line: int) -> Normalised:
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RowError("document text is empty", check="empty_turn")
    doc_id = obj.get("id")
    if doc_id is None:
        doc_id = f"line-{line}"
    if not isinstance(doc_id, str | int):
        raise RowError("document id must be a string")
    row = {"id": str(doc_id), "text": text, "metadata": metadata}
    return Normalised("documents", "documents", row, prompt_key=str(doc_id))


def _prompt_key(row: dict[str, Any]) -> str:
    if "messages" in row:
        return canonical(row["messages"][:-1])
    return canonical(row["prompt"])


def row_text(row: dict[str, Any]) -> str:
    """All the text of a normal-form row, for duplicate, PII and length checks."""
    if "messages" in row:
        return "\n".join(m["content"] for m in row["messages"])
    if "prompt" in row:
        parts = [m["content"] for m in row["prompt"]]
        parts += [m["content"] for m in row["chosen"] + row["rejected"]]
        return "\n".join(parts)
    return str(row.get("text", ""))


def token_sequences(row: dict[str, Any]) -> list[list[dict[str, str]]]:
    """The conversations a trainer tokenizes for this row (one for SFT, two for a pair)."""
    if "messages" in row:
        return [row["messages"]]
    if "prompt" in row:
        return [row["prompt"] + row["chosen"], row["prompt"] + row["rejected"]]
    return []
