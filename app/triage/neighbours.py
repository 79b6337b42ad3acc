"""Labelled training cases nearest to a case: the examples an LLM reads beside the label guide.

A case is placed by the mean of its fields' sentence vectors (those computed for the classifier
anyway, so nothing is embedded twice); the index keeps each training case's vector (float16),
its marked text (`app.triage.case_text`) and its subcategory, inside the triage artefact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.cases.schemas import FailureCase
from app.triage.case_text import case_text
from app.triage.features import CaseFeatures

PLACE_FIELDS: tuple[str, ...] = ("feedback", "output", "input", "expected", "context")


def place(features: CaseFeatures) -> np.ndarray:
    """(n, 384) unit vectors: the mean of each case's non-empty field vectors."""
    stacked = np.stack([features.embeddings[name] for name in PLACE_FIELDS], axis=1)
    summed = stacked.astype(np.float32).sum(axis=1)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return summed / np.maximum(norms, 1e-9)


@dataclass
class NeighbourIndex:
    vectors: np.ndarray  # (n, 384) float16
    texts: list[str]
    labels: list[str]

    @classmethod
    def build(
        cls, cases: Sequence[FailureCase], labels: Sequence[str], features: CaseFeatures
    ) -> NeighbourIndex:
        return cls(
            vectors=place(features).astype(np.float16),
            texts=[case_text(c) for c in cases],
            labels=list(labels),
        )

    def nearest(self, vectors: np.ndarray, k: int = 4) -> list[list[tuple[str, str]]]:
        """For each row of `vectors`, the (text, subcategory) of the `k` nearest cases, with
        at most two of one subcategory so the examples show the borders, not one label."""
        scores = vectors.astype(np.float32) @ self.vectors.astype(np.float32).T
        out: list[list[tuple[str, str]]] = []
        for row in scores:
            chosen: list[tuple[str, str]] = []
            per_label: dict[str, int] = {}
            for index in np.argsort(-row):
                label = self.labels[int(index)]
                if per_label.get(label, 0) >= 2:
                    continue
                per_label[label] = per_label.get(label, 0) + 1
                chosen.append((self.texts[int(index)], label))
                if len(chosen) == k:
                    break
            out.append(chosen)
        return out

    def to_payload(self) -> dict[str, object]:
        return {"vectors": self.vectors, "texts": self.texts, "labels": self.labels}

    @classmethod
    def from_payload(cls, payload: dict[str, object] | None) -> NeighbourIndex | None:
        if not payload:
            return None
        return cls(
            vectors=np.asarray(payload["vectors"]),
            texts=list(payload["texts"]),  # type: ignore[call-overload]
            labels=list(payload["labels"]),  # type: ignore[call-overload]
        )
