"""The learned subcategory model: logistic regression over signals + embeddings, mixed with a
rule prior.

Final probabilities are `(1 - rule_weight) * p_model + rule_weight * p_rules`, where `p_rules`
normalises the summed weights of the signals that fired (uniform when none fired). The mixing
weight, the regularisation, the embedded fields and the embedding scale are chosen by
cross-validation on the training cases (see `app.triage.training.train`).

Why `embed_scale` matters: the ~90 signal features are standardised to unit variance, while
one dimension of a unit-length 384-d sentence embedding has a variance near 1/384. Under one L2
penalty the embedding weights were shrunk to almost nothing (scale 1: grouped CV macro-F1
0.875, the same as signals alone); scaling the embeddings by k widens their prior by k², and
k = 5-7 lets the model use what the text says (grouped CV macro-F1 0.91).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from app.cases.schemas import SUBCATEGORIES
from app.triage.features import CaseFeatures


@dataclass(frozen=True)
class ModelConfig:
    fields: tuple[str, ...] = ("feedback", "output", "input", "expected", "context")
    c: float = 0.1
    rule_weight: float = 0.1
    embed_scale: float = 7.0
    signal_scale: float = 1.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def rule_prior(features: CaseFeatures) -> np.ndarray:
    """Normalised signal support per subcategory, uniform where nothing fired."""
    support = np.array(
        [[r.support()[name] for name in SUBCATEGORIES] for r in features.reports], dtype=np.float64
    ).reshape(len(features.reports), len(SUBCATEGORIES))
    totals = support.sum(axis=1, keepdims=True)
    uniform = np.full_like(support, 1.0 / len(SUBCATEGORIES))
    smoothed = (support + 0.05) / (totals + 0.05 * len(SUBCATEGORIES))
    return np.where(totals > 0, smoothed, uniform)


@dataclass
class TriageClassifier:
    config: ModelConfig
    scaler: StandardScaler = field(default_factory=StandardScaler)
    model: LogisticRegression | None = None
    n_dense: int = 0

    def _design(self, features: CaseFeatures, *, fit: bool) -> np.ndarray:
        dense = np.hstack([features.signal_matrix, features.similarities]).astype(np.float64)
        dense = self.scaler.fit_transform(dense) if fit else self.scaler.transform(dense)
        dense = np.clip(dense, -5.0, 5.0) * self.config.signal_scale
        self.n_dense = dense.shape[1]
        blocks = [dense]
        blocks.extend(
            features.embeddings[name].astype(np.float64) * self.config.embed_scale
            for name in self.config.fields
        )
        return np.hstack(blocks)

    def fit(self, features: CaseFeatures, labels: Sequence[str]) -> TriageClassifier:
        unknown = set(labels) - set(SUBCATEGORIES)
        if unknown:
            raise ValueError(f"unknown subcategories in labels: {sorted(unknown)}")
        design = self._design(features, fit=True)
        self.model = LogisticRegression(
            C=self.config.c, class_weight="balanced", max_iter=5000, random_state=0
        )
        self.model.fit(design, list(labels))
        return self

    def model_proba(self, features: CaseFeatures) -> np.ndarray:
        """Probabilities of the learned model alone, columns in SUBCATEGORIES order."""
        if self.model is None:
            raise RuntimeError("the classifier is not fitted; call fit() or load an artefact")
        raw = self.model.predict_proba(self._design(features, fit=False))
        out = np.zeros((raw.shape[0], len(SUBCATEGORIES)))
        for j, name in enumerate(self.model.classes_):
            out[:, SUBCATEGORIES.index(str(name))] = raw[:, j]
        return out

    def predict_proba(self, features: CaseFeatures) -> np.ndarray:
        """Mixed probabilities (model + rule prior), columns in SUBCATEGORIES order."""
        weight = self.config.rule_weight
        mixed = (1 - weight) * self.model_proba(features) + weight * rule_prior(features)
        return mixed / mixed.sum(axis=1, keepdims=True)
