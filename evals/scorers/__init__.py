"""Scorers, registered by name in `REGISTRY` (``factory(context=ScorerContext, **params)``).

Built in: exact_match, json_valid, json_schema, regex, length (pass/fail 0/1); rouge_l, bleu,
chrf, string_similarity (ragas non-LLM metrics); semantic_similarity (MiniLM); context_precision,
context_recall (ragas non-LLM); faithfulness, answer_correctness (ragas, need a judge model);
hit_rate, reciprocal_rank (ranked retrieval ids in the example's metadata).
`evals.scorers.batch` runs any of them from synchronous code (the recipes' holdout metrics).
Register your own with ``@register("name")`` on a class with ``metric`` and ``async score``.
"""

from evals.scorers import batch, overlap, rag, retrieval, semantic, text
from evals.scorers.base import (
    REGISTRY,
    Score,
    Scorer,
    ScorerContext,
    ScorerFactory,
    build_scorer,
    parse_scorer_spec,
    register,
)

__all__ = [
    "REGISTRY",
    "Score",
    "Scorer",
    "ScorerContext",
    "ScorerFactory",
    "batch",
    "build_scorer",
    "overlap",
    "parse_scorer_spec",
    "rag",
    "register",
    "retrieval",
    "semantic",
    "text",
]
