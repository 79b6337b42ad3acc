"""RAG scorers from ragas.

Always available (no LLM): ``context_precision`` (ragas NonLLMContextPrecisionWithReference) and
``context_recall`` (ragas NonLLMContextRecall). Both compare the example's retrieved ``context``
with its ``reference_contexts`` by string similarity; examples without either are unscored.

With a judge model (``--judge-model``): ``faithfulness`` (ragas Faithfulness: are the output's
claims supported by ``context``?) and ``answer_correctness`` (ragas AnswerCorrectness against
``expected``; factuality only unless ``similarity_weight`` > 0, which adds MiniLM similarity).
A judge reply ragas cannot parse leaves the example unscored, never defaulted.
"""

from __future__ import annotations

import math
from typing import Any

from evals.chat import ChatClient
from evals.dataset import Example
from evals.errors import ScorerError
from evals.scorers.base import Score, ScorerContext, register
from evals.scorers.ragas_metrics import ragas_module


def _sample(**fields: Any) -> Any:
    return ragas_module("ragas.dataset_schema").SingleTurnSample(**fields)


def _value(raw: Any, what: str) -> Score:
    value = float(raw)
    if math.isnan(value):
        return Score.unscored(f"ragas returned no {what} score")
    return Score(value)


class _ReferenceContextScorer:
    """Compares the example's ``context`` with its ``reference_contexts`` through a ragas non-LLM
    metric (``ragas_module``.``ragas_class``), with a string-similarity ``threshold``."""

    metric: str
    what: str
    ragas_module: str
    ragas_class: str

    def __init__(
        self, *, context: ScorerContext, metric: str | None = None, threshold: float = 0.5
    ) -> None:
        self.metric = metric or self.metric
        metric_class = getattr(ragas_module(self.ragas_module), self.ragas_class)
        self._metric_obj = metric_class(threshold=threshold)

    async def score(self, example: Example, output: str) -> Score:
        if not example.context or not example.reference_contexts:
            return Score.unscored("needs the example's context and reference_contexts")
        sample = _sample(
            retrieved_contexts=example.context, reference_contexts=example.reference_contexts
        )
        return _value(await self._metric_obj.single_turn_ascore(sample), self.what)


@register("context_precision")
class ContextPrecision(_ReferenceContextScorer):
    metric, what = "context_precision", "context precision"
    ragas_module = "ragas.metrics._context_precision"
    ragas_class = "NonLLMContextPrecisionWithReference"


@register("context_recall")
class ContextRecall(_ReferenceContextScorer):
    metric, what = "context_recall", "context recall"
    ragas_module = "ragas.metrics._context_recall"
    ragas_class = "NonLLMContextRecall"


def _ragas_llm(context: ScorerContext, scorer: str) -> Any:
    if context.judge is None:
        raise ScorerError(f"{scorer} needs a judge model: pass --judge-endpoint/--judge-model")
    judge = context.judge
    model = judge.langchain_model() if isinstance(judge, ChatClient) else judge
    return ragas_module("ragas.llms").LangchainLLMWrapper(model)


async def _judged(metric_obj: Any, sample: Any, what: str) -> Score:
    try:
        raw = await metric_obj.single_turn_ascore(sample)
    except Exception as exc:  # ragas raises assorted errors on replies it cannot parse
        return Score.unscored(f"judge reply not usable for {what}: {type(exc).__name__}: {exc}")
    return _value(raw, what)


@register("faithfulness")
class Faithfulness:
    def __init__(self, *, context: ScorerContext, metric: str = "faithfulness") -> None:
        self.metric = metric
        module = ragas_module("ragas.metrics._faithfulness")
        self._metric_obj = module.Faithfulness(llm=_ragas_llm(context, "faithfulness"))

    async def score(self, example: Example, output: str) -> Score:
        if not example.context:
            return Score.unscored("needs the example's context")
        sample = _sample(
            user_input=example.prompt_text(), response=output, retrieved_contexts=example.context
        )
        return await _judged(self._metric_obj, sample, "faithfulness")


@register("answer_correctness")
class AnswerCorrectness:
    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "answer_correctness",
        similarity_weight: float = 0.0,
    ) -> None:
        if not 0.0 <= similarity_weight < 1.0:
            raise ScorerError("answer_correctness: similarity_weight must be in [0, 1)")
        self.metric = metric
        module = ragas_module("ragas.metrics._answer_correctness")
        kwargs: dict[str, Any] = {
            "llm": _ragas_llm(context, "answer_correctness"),
            "weights": [1.0 - similarity_weight, similarity_weight],
        }
        if similarity_weight > 0:
            kwargs["embeddings"] = _minilm_embeddings()
        self._metric_obj = module.AnswerCorrectness(**kwargs)

    async def score(self, example: Example, output: str) -> Score:
        if example.expected is None:
            return Score.unscored("example has no expected answer")
        sample = _sample(
            user_input=example.prompt_text(), response=output, reference=example.expected
        )
        return await _judged(self._metric_obj, sample, "answer correctness")


def _minilm_embeddings() -> Any:
    from langchain_community.embeddings import HuggingFaceEmbeddings

    from evals.scorers.semantic import default_embedding_model_path

    wrapper = ragas_module("ragas.embeddings").LangchainEmbeddingsWrapper
    return wrapper(HuggingFaceEmbeddings(model_name=default_embedding_model_path()))
