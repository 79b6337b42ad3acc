"""Reference-overlap scorers in [0, 1]. All need the example's ``expected``.

``rouge_l``: ROUGE-L (longest common subsequence of tokens) F-measure, precision or recall, with
rouge-score's tokenizer (lowercase, alphanumeric runs, words of 4+ letters stemmed) and Martin
Porter's original stemmer (snowballstemmer); the LCS comes from rapidfuzz. rouge-score itself
gives the same figure when handed the same stemmer (tested). rouge-score's default stemmer is
NLTK's variant, whose import costs about 1.2 s of every CLI run and which conflates a few words
differently (days/day, says/say); runs scored before version 2 used it, and the gate refuses
to compare a metric scored by two versions (`Scorer.version`, recorded in each run).

``bleu`` (ragas BleuScore, sacrebleu corpus BLEU over sentences / 100), ``chrf`` (ragas
CHRFScore, sacrebleu chrF / 100) and ``string_similarity`` (ragas NonLLMStringSimilarity:
1 - normalised Levenshtein by default, via rapidfuzz) are ragas's non-LLM metrics.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rapidfuzz.distance import LCSseq
from rouge_score.tokenize import tokenize

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


class PorterStemmer:
    """Martin Porter's original algorithm (Snowball's ``porter``), with rouge-score's ``stem``."""

    def __init__(self) -> None:
        import snowballstemmer

        self._stemmer = snowballstemmer.stemmer("porter")
        self.stem = cache(self._stemmer.stemWord)


@cache
def porter_stemmer() -> PorterStemmer:
    return PorterStemmer()


def rouge_l(reference: str, response: str) -> tuple[float, float, float]:
    """ROUGE-L ``(precision, recall, fmeasure)`` of ``response`` against ``reference``."""
    stemmer = porter_stemmer()
    ref, out = tokenize(reference, stemmer), tokenize(response, stemmer)
    if not ref or not out:
        return 0.0, 0.0, 0.0
    common = LCSseq.similarity(ref, out)
    precision, recall = common / len(out), common / len(ref)
    if precision + recall == 0:
        return precision, recall, 0.0
    return precision, recall, 2 * precision * recall / (precision + recall)


@register("rouge_l")
class RougeL:
    version = 2  # 1: rouge-score with NLTK's Porter variant (through ragas)
    _modes = ("precision", "recall", "fmeasure")

    def __init__(
        self, *, context: ScorerContext, metric: str = "rouge_l", mode: str = "fmeasure"
    ) -> None:
        if mode not in self._modes:
            raise ScorerError(f"rouge_l: mode must be fmeasure, precision or recall, not {mode!r}")
        self.metric = metric
        self._index = self._modes.index(mode)
        porter_stemmer()  # load it now, not inside the first example's scoring

    async def score(self, example: Example, output: str) -> Score:
        if example.expected is None:
            return Score.unscored("example has no expected answer")
        return Score(rouge_l(example.expected, output)[self._index])


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
