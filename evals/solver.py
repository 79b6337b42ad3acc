"""Solvers produce the output to score for each example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from evals.chat import ChatClient
from evals.dataset import Example


@dataclass(frozen=True)
class Generation:
    """A solver's answer to one example, or the error that stopped it."""

    output: str | None
    error: str | None = None
    cached: bool = False


class Solver(Protocol):
    """Anything that answers examples; ``model_name`` identifies the candidate in the run meta."""

    model_name: str | None

    async def solve(self, example: Example) -> Generation: ...


class PrecomputedSolver:
    """Scores the ``output`` already stored in each example (no model call)."""

    def __init__(self, *, model_name: str | None = None) -> None:
        self.model_name = model_name

    async def solve(self, example: Example) -> Generation:
        if example.output is None:
            return Generation(output=None, error="example has no output to score (no endpoint)")
        return Generation(output=example.output)


class ChatModelSolver:
    """Asks a chat model (any langchain BaseChatModel, e.g. an OpenAI-compatible endpoint)."""

    def __init__(self, *, client: ChatClient) -> None:
        self.client = client
        self.model_name = client.model_name

    async def solve(self, example: Example) -> Generation:
        try:
            completion = await self.client.complete(example.messages())
        except Exception as exc:  # any transport or API failure is recorded on the example
            return Generation(output=None, error=f"{type(exc).__name__}: {exc}")
        return Generation(output=completion.text, cached=completion.cached)
