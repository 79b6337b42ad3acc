"""Holdout datasets: one example per JSONL line.

A line is ``{"id"?, "input", "expected"?, "context"?, "reference_contexts"?, "human_label"?,
"baseline_output"?, "output"?, "metadata"?}``. ``input`` is a string (one user turn) or a list of
chat messages ``{"role", "content"}``. An example without an ``id`` gets a stable one: the first
16 hex digits of the sha256 of its input (canonical JSON), so reruns line up for the paired gate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.errors import DatasetError

Role = Literal["system", "user", "assistant", "tool"]
HumanLabel = int | float | bool | str


class ChatMessage(BaseModel):
    """One chat turn of an example's input."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str


class Example(BaseModel):
    """One holdout example."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    input: str | list[ChatMessage]
    expected: str | None = None
    context: list[str] | None = Field(
        default=None, description="contexts retrieved for this input (RAG candidates)"
    )
    reference_contexts: list[str] | None = Field(
        default=None, description="the contexts that should have been retrieved"
    )
    human_label: HumanLabel | None = Field(
        default=None,
        description="a reviewer's verdict: 1-5 rubric score, pass/fail (bool), or win/tie/loss",
    )
    baseline_output: str | None = None
    output: str | None = Field(default=None, description="an existing answer to score as is")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("context", "reference_contexts", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: str | list[ChatMessage]) -> str | list[ChatMessage]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("input must not be blank")
        if isinstance(value, list) and not value:
            raise ValueError("input must hold at least one message")
        return value

    def messages(self) -> list[dict[str, str]]:
        """The input as OpenAI-style chat messages."""
        if isinstance(self.input, str):
            return [{"role": "user", "content": self.input}]
        return [message.model_dump() for message in self.input]

    def prompt_text(self) -> str:
        """The input as plain text, for judges and scorers that read the question."""
        if isinstance(self.input, str):
            return self.input
        return "\n".join(f"{m.role}: {m.content}" for m in self.input)


class _RawExample(BaseModel):
    """A line before its id is settled."""

    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    input: Any
    expected: Any = None
    context: Any = None
    reference_contexts: Any = None
    human_label: Any = None
    baseline_output: Any = None
    output: Any = None
    metadata: Any = None

    @model_validator(mode="after")
    def _input_present(self) -> _RawExample:
        if self.input is None:
            raise ValueError("input is required")
        return self


def example_id(value: str | list[dict[str, str]] | list[ChatMessage]) -> str:
    """A stable id for an input: 16 hex digits of sha256 over its canonical JSON."""
    if isinstance(value, list):
        value = [m.model_dump() if isinstance(m, ChatMessage) else dict(m) for m in value]
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def parse_example(data: dict[str, Any]) -> Example:
    """Validate one example dict, giving it a stable id when it has none."""
    raw = _RawExample.model_validate(data)
    fields = {k: v for k, v in raw.model_dump().items() if v is not None}
    fields["id"] = str(raw.id) if raw.id is not None else example_id(raw.input)
    return Example.model_validate(fields)


def load_dataset(path: str | Path) -> list[Example]:
    """Read a JSONL dataset. Raises DatasetError naming the file and line of any problem."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"dataset file not found: {path} (pass a JSONL file, one example a line)"
        )
    examples: list[Example] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(data, dict):
                raise DatasetError(f"{path}:{number}: each line must be a JSON object")
            try:
                example = parse_example(data)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}"
                    for err in exc.errors()
                )
                raise DatasetError(f"{path}:{number}: invalid example ({problems})") from exc
            if example.id in seen:
                raise DatasetError(
                    f"{path}:{number}: duplicate example id {example.id!r} "
                    f"(first on line {seen[example.id]}); ids must be unique"
                )
            seen[example.id] = number
            examples.append(example)
    if not examples:
        raise DatasetError(f"dataset {path} holds no examples")
    return examples


def write_dataset(examples: list[Example], path: str | Path) -> Path:
    """Write examples as JSONL (the inverse of `load_dataset`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(example.model_dump_json(exclude_none=True) + "\n")
    return path
