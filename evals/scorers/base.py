"""What a scorer is, and the registry that names them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from evals.dataset import Example
from evals.errors import ScorerError


@dataclass(frozen=True)
class Score:
    """A scorer's verdict on one output: a number, or None with the reason it is unscored."""

    value: float | None
    reason: str | None = None

    @classmethod
    def unscored(cls, reason: str) -> Score:
        return cls(value=None, reason=reason)


@dataclass
class ScorerContext:
    """What scorers may need besides their own parameters."""

    judge: Any | None = None  # a ChatClient or a langchain BaseChatModel, for LLM-backed metrics
    judge_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """Scores one example's output. ``metric`` is the key it writes in the result's scores."""

    metric: str

    async def score(self, example: Example, output: str) -> Score: ...


ScorerFactory = Callable[..., Scorer]

REGISTRY: dict[str, ScorerFactory] = {}


def register(name: str) -> Callable[[ScorerFactory], ScorerFactory]:
    """Class decorator: make a scorer available by ``name`` (``factory(context=..., **params)``)."""

    def wrap(factory: ScorerFactory) -> ScorerFactory:
        if name in REGISTRY:
            raise ScorerError(f"scorer {name!r} is registered twice")
        REGISTRY[name] = factory
        return factory

    return wrap


def parse_scorer_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name"``, ``"name:key=value,key=value"`` or ``"name:{json}"`` -> (name, params).

    Values in ``key=value`` form are read as JSON when they parse (numbers, true/false), else as
    strings. Use the JSON form for values holding commas (such as many regexes).
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise ScorerError(f"empty scorer name in {spec!r}")
    rest = rest.strip()
    if not rest:
        return name, {}
    if rest.startswith("{"):
        try:
            params = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ScorerError(
                f"scorer {name!r}: parameters are not valid JSON ({exc.msg})"
            ) from exc
        if not isinstance(params, dict):
            raise ScorerError(f"scorer {name!r}: JSON parameters must be an object")
        return name, params
    params: dict[str, Any] = {}
    for pair in rest.split(","):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ScorerError(
                f"scorer {name!r}: expected key=value pairs after ':', got {pair!r} "
                '(or use the JSON form, e.g. regex:{"pattern": "..."})'
            )
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return name, params


def build_scorer(spec: str, *, context: ScorerContext | None = None) -> Scorer:
    """Build a registered scorer from a spec string (see `parse_scorer_spec`)."""
    name, params = parse_scorer_spec(spec)
    factory = REGISTRY.get(name)
    if factory is None:
        raise ScorerError(f"unknown scorer {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    try:
        return factory(context=context or ScorerContext(), **params)
    except TypeError as exc:
        raise ScorerError(f"scorer {name!r}: bad parameters {params}: {exc}") from exc
