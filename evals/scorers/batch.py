"""Scoring outside the eval runner: run a registered scorer over (example, output) pairs from
synchronous code (the recipes' own holdout metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from evals.dataset import Example
from evals.scorers.base import Score, Scorer, ScorerContext, build_scorer

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:  # called from inside an event loop
        return pool.submit(asyncio.run, coroutine).result()


def score_pairs(scorer: Scorer, pairs: Sequence[tuple[Example, str]]) -> list[Score]:
    """Every pair's score, in order."""

    async def score_all() -> list[Score]:
        return [await scorer.score(example, output) for example, output in pairs]

    return _run(score_all())


def mean_score(
    spec: str | Scorer,
    pairs: Sequence[tuple[Example, str]],
    *,
    context: ScorerContext | None = None,
) -> float | None:
    """The mean of the scored values (unscored pairs left out); None when none was scored."""
    if not pairs:
        return None
    scorer = build_scorer(spec, context=context) if isinstance(spec, str) else spec
    values = [s.value for s in score_pairs(scorer, pairs) if s.value is not None]
    return sum(values) / len(values) if values else None
