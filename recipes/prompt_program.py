"""The prompting recipe's artefact: a `PromptProgram` (system prompt, few-shot examples chosen by
MiniLM similarity, validators, bounded re-ask) that answers questions and saves to prompt.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipes.errors import RecipeRuntimeError
from recipes.validators import Validator, failures, validators_from_dicts

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

PROMPT_FORMAT_VERSION = 1


@dataclass
class AnswerOutcome:
    """One answered question: the final text, whether it passed, and every attempt."""

    text: str
    passed: bool
    errors: list[str]
    attempts: list[str]


@dataclass
class PromptProgram:
    """A prompt artefact that can answer questions: load with `PromptProgram.load`."""

    system_prompt: str
    examples: list[dict[str, str]]
    num_examples: int
    validators: list[Validator]
    max_reasks: int
    _example_vectors: list[list[float]] | None = field(default=None, repr=False)

    def select_examples(self, question: str) -> list[dict[str, str]]:
        """The ``num_examples`` examples whose questions are most similar to ``question``."""
        if self.num_examples == 0 or not self.examples:
            return []
        from recipes.embeddings import MiniLMEmbeddings, cosine_matrix

        embeddings = MiniLMEmbeddings()
        if self._example_vectors is None:
            self._example_vectors = embeddings.embed_documents(
                [e["question"] for e in self.examples]
            )
        scores = cosine_matrix([embeddings.embed_query(question)], self._example_vectors)[0]
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [self.examples[i] for i in ranked[: self.num_examples]]

    def full_system_prompt(self) -> str:
        rules = [v.instruction() for v in self.validators]
        return "\n".join([self.system_prompt, *rules]) if rules else self.system_prompt

    def messages(self, question: str) -> list[BaseMessage]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        out: list[BaseMessage] = [SystemMessage(content=self.full_system_prompt())]
        for example in self.select_examples(question):
            out.append(HumanMessage(content=example["question"]))
            out.append(AIMessage(content=example["answer"]))
        out.append(HumanMessage(content=question))
        return out

    def answer(self, question: str, chat_model: BaseChatModel) -> AnswerOutcome:
        """Ask, validate, and re-ask with the validator errors at most ``max_reasks`` times."""
        from langchain_core.messages import AIMessage, HumanMessage

        messages = self.messages(question)
        attempts: list[str] = []
        errors: list[str] = []
        for _ in range(self.max_reasks + 1):
            text = invoke_chat(chat_model, messages)
            attempts.append(text)
            errors = failures(text, self.validators)
            if not errors:
                return AnswerOutcome(text=text, passed=True, errors=[], attempts=attempts)
            messages = [
                *messages,
                AIMessage(content=text),
                HumanMessage(
                    content="Your answer was rejected: "
                    + "; ".join(errors)
                    + ". Answer the same question again, fixing this. "
                    "Reply with the answer only."
                ),
            ]
        return AnswerOutcome(text=attempts[-1], passed=False, errors=errors, attempts=attempts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PROMPT_FORMAT_VERSION,
            "system_prompt": self.system_prompt,
            "full_system_prompt": self.full_system_prompt(),
            "examples": self.examples,
            "example_selection": {
                "method": "similarity",
                "k": self.num_examples,
                "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
            },
            "validators": [v.to_dict() for v in self.validators],
            "max_reasks": self.max_reasks,
        }

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False))
        return path

    @classmethod
    def load(cls, path: Path) -> PromptProgram:
        data = json.loads(Path(path).read_text())
        return cls(
            system_prompt=data["system_prompt"],
            examples=data["examples"],
            num_examples=int(data["example_selection"]["k"]),
            validators=validators_from_dicts(data["validators"]),
            max_reasks=int(data["max_reasks"]),
        )


def invoke_chat(chat_model: BaseChatModel, messages: list[BaseMessage]) -> str:
    try:
        reply = chat_model.invoke(messages)
    except Exception as exc:  # network, rate limit, server error: worth another try
        raise RecipeRuntimeError(
            f"the chat model failed ({type(exc).__name__}: {exc})", retryable=True
        ) from exc
    content = reply.content
    if not isinstance(content, str):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return content.strip()
