"""Retrieval scorers: did the retriever return a relevant document, and how high?

``hit_rate`` (1 when any of the top results is relevant) and ``reciprocal_rank`` (1 / the rank of
the first relevant result, 0 when none is; its mean is MRR). Both read the example's
``metadata["retrieved_ids"]`` (ranked, best first) and ``metadata["reference_ids"]`` (the relevant
ones); an example without reference ids is unscored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from evals.dataset import Example
from evals.scorers.base import Score, ScorerContext, register


def first_relevant_rank(retrieved: Sequence[str], relevant: Collection[str]) -> int | None:
    """The 1-based rank of the first relevant id among ``retrieved``, or None."""
    return next((n for n, item in enumerate(retrieved, 1) if item in relevant), None)


def _ids(example: Example) -> tuple[list[Any], list[Any]] | None:
    relevant = example.metadata.get("reference_ids") or []
    if not relevant:
        return None
    return list(example.metadata.get("retrieved_ids") or []), list(relevant)


class _RankScorer:
    metric: str

    def __init__(self, *, context: ScorerContext, metric: str | None = None) -> None:
        self.metric = metric or self.metric

    def value(self, rank: int | None) -> float:
        raise NotImplementedError

    async def score(self, example: Example, output: str) -> Score:
        ids = _ids(example)
        if ids is None:
            return Score.unscored("needs metadata.reference_ids")
        return Score(self.value(first_relevant_rank(*ids)))


@register("hit_rate")
class HitRate(_RankScorer):
    metric = "hit_rate"

    def value(self, rank: int | None) -> float:
        return 1.0 if rank is not None else 0.0


@register("reciprocal_rank")
class ReciprocalRank(_RankScorer):
    metric = "reciprocal_rank"

    def value(self, rank: int | None) -> float:
        return 1.0 / rank if rank is not None else 0.0
