"""Reference-overlap scorers in [0, 1], computed by ragas's non-LLM metrics.

``rouge_l`` (ragas RougeScore, rougeL F-measure via rouge-score with stemming), ``bleu`` (ragas
BleuScore, sacrebleu corpus BLEU over sentences / 100), ``chrf`` (ragas CHRFScore, sacrebleu chrF
/ 100) and ``string_similarity`` (ragas NonLLMStringSimilarity: 1 - normalised Levenshtein by
default, via rapidfuzz). All need the example's ``expected``.
"""

from __future__ import annotations

from typing import Any

from evals.dataset import Example
from evals.errors import ScorerError
from evals.scorers.base import Score, ScorerContext, register
from evals.scorers.ragas_metrics import ragas_module


class _RagasReferenceScorer:
    metric: str
    _metric_obj: Any

    async def score(self, example: Example, output: str) -> Score:
        if example.expected is None:
            return Score.unscored("example has no expected answer")
        result = await self._metric_obj.ascore(reference=example.expected, response=output)
        return Score(float(result.value))


def _collections() -> Any:
    return ragas_module("ragas.metrics.collections")


@register("rouge_l")
class RougeL(_RagasReferenceScorer):
    def __init__(
        self, *, context: ScorerContext, metric: str = "rouge_l", mode: str = "fmeasure"
    ) -> None:
        if mode not in {"fmeasure", "precision", "recall"}:
            raise ScorerError(f"rouge_l: mode must be fmeasure, precision or recall, not {mode!r}")
        self.metric = metric
        self._metric_obj = _collections().RougeScore(rouge_type="rougeL", mode=mode)


@register("bleu")
class Bleu(_RagasReferenceScorer):
    def __init__(self, *, context: ScorerContext, metric: str = "bleu") -> None:
        self.metric = metric
        self._metric_obj = _collections().BleuScore()


@register("chrf")
class Chrf(_RagasReferenceScorer):
    def __init__(self, *, context: ScorerContext, metric: str = "chrf") -> None:
        self.metric = metric
        self._metric_obj = _collections().CHRFScore()


@register("string_similarity")
class StringSimilarity(_RagasReferenceScorer):
    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "string_similarity",
        distance: str = "levenshtein",
    ) -> None:
        collections = _collections()
        try:
            measure = collections.DistanceMeasure(distance)
        except ValueError as exc:
            options = ", ".join(m.value for m in collections.DistanceMeasure)
            raise ScorerError(f"string_similarity: distance must be one of {options}") from exc
        self.metric = metric
        self._metric_obj = collections.NonLLMStringSimilarity(distance_measure=measure)
