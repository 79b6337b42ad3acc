"""The learned subcategory model: a logistic regression over signals, field alignment and
embeddings, boosted trees over signals and field alignment, and a rule prior, mixed and then
calibrated.

    p_model = (1 - trees_weight) * p_linear + trees_weight * p_trees
    p       = (1 - rule_weight) * p_model + rule_weight * p_rules
    p_cal   ∝ p ** (1 / temperature)

`p_rules` normalises the summed weights of the signals that fired (uniform when none fired).
The trees read interactions the linear model cannot (the expected answer is in the context *and*
the output is not). The weights, the regularisation, the embedded fields and the embedding scale
are chosen by cross-validation on the training cases, and the temperature is fitted on the
out-of-fold probabilities (see `app.triage.training.train`).

Cases transcribed from real public reports count `real_weight` = 3 times: they are what the engine
meets in use, and are sparser and messier than written cases. In app-grouped CV (5 folds, 3,271
cases) weight 3 raised the mean figure on the 220 real cases from 0.716 to 0.737 and left the
overall mean as it was (0.905 vs 0.905).

Why `embed_scale` matters: the ~90 signal features are standardised to unit variance, while
one dimension of a unit-length 384-d sentence embedding has a variance near 1/384. Under one L2
penalty the embedding weights were shrunk to almost nothing (scale 1: grouped CV macro-F1
0.875, the same as signals alone); scaling the embeddings by k widens their prior by k², and
k = 5-7 lets the model use what the text says (grouped CV macro-F1 0.91).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from app.cases.schemas import SUBCATEGORIES
from app.triage.embedding import DEFAULT_PRECISION
from app.triage.features import CaseFeatures
from app.triage.neighbours import NeighbourIndex


@dataclass(frozen=True)
class ModelConfig:
    fields: tuple[str, ...] = ("feedback", "output", "input", "expected", "context")
    c: float = 0.1
    rule_weight: float = 0.1
    embed_scale: float = 7.0
    signal_scale: float = 1.0
    alignment: bool = True
    real_weight: float = 3.0  # sample weight of cases transcribed from real public reports
    trees_weight: float = 0.4
    temperature: float = 1.0
    embedding_precision: str = DEFAULT_PRECISION  # what the features were embedded in

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
    trees: HistGradientBoostingClassifier | None = None
    n_dense: int = 0
    neighbours: NeighbourIndex | None = None  # labelled examples for an LLM's reading

    def _dense(self, features: CaseFeatures) -> np.ndarray:
        blocks = [features.signal_matrix, features.similarities]
        if self.config.alignment:
            blocks.append(features.alignment)
        return np.hstack(blocks).astype(np.float64)

    def _design(self, features: CaseFeatures, *, fit: bool) -> np.ndarray:
        dense = self._dense(features)
        dense = self.scaler.fit_transform(dense) if fit else self.scaler.transform(dense)
        dense = np.clip(dense, -5.0, 5.0) * self.config.signal_scale
        self.n_dense = dense.shape[1]
        blocks = [dense]
        blocks.extend(
            features.embeddings[name].astype(np.float64) * self.config.embed_scale
            for name in self.config.fields
        )
        return np.hstack(blocks)

    def fit(
        self,
        features: CaseFeatures,
        labels: Sequence[str],
        sample_weight: np.ndarray | None = None,
    ) -> TriageClassifier:
        unknown = set(labels) - set(SUBCATEGORIES)
        if unknown:
            raise ValueError(f"unknown subcategories in labels: {sorted(unknown)}")
        design = self._design(features, fit=True)
        self.model = LogisticRegression(
            C=self.config.c, class_weight="balanced", max_iter=5000, random_state=0
        )
        self.model.fit(design, list(labels), sample_weight=sample_weight)
        self.trees = None
        if self.config.trees_weight > 0:
            trees = HistGradientBoostingClassifier(
                max_iter=100,
                learning_rate=0.1,
                max_leaf_nodes=15,
                min_samples_leaf=10,
                l2_regularization=1.0,
                class_weight="balanced",
                random_state=0,
            )
            # one OpenMP thread: on a busy 2-CPU machine spinning threads cost 10x, idle ~1.5x
            with threadpool_limits(limits=1, user_api="openmp"):
                self.trees = trees.fit(
                    self._dense(features), list(labels), sample_weight=sample_weight
                )
        return self

    def with_temperature(self, temperature: float) -> TriageClassifier:
        """The same fitted model with another calibration temperature."""
        return TriageClassifier(
            config=replace(self.config, temperature=temperature),
            scaler=self.scaler,
            model=self.model,
            trees=self.trees,
            n_dense=self.n_dense,
            neighbours=self.neighbours,
        )

    @staticmethod
    def _columns(raw: np.ndarray, classes: Sequence[object]) -> np.ndarray:
        out = np.zeros((raw.shape[0], len(SUBCATEGORIES)))
        for j, name in enumerate(classes):
            out[:, SUBCATEGORIES.index(str(name))] = raw[:, j]
        return out

    def linear_proba(self, features: CaseFeatures) -> np.ndarray:
        """Probabilities of the logistic regression alone, columns in SUBCATEGORIES order."""
        if self.model is None:
            raise RuntimeError("the classifier is not fitted; call fit() or load an artefact")
        raw = self.model.predict_proba(self._design(features, fit=False))
        return self._columns(raw, self.model.classes_)

    def model_proba(self, features: CaseFeatures) -> np.ndarray:
        """Probabilities of the learned models (linear and trees mixed), SUBCATEGORIES order."""
        linear = self.linear_proba(features)
        if self.trees is None or self.config.trees_weight <= 0:
            return linear
        # one OpenMP thread, as in fit: 800 small tree walks pay more in thread wake-ups than
        # they gain, and they fight the embedding model's threads for the same 2 CPUs
        with threadpool_limits(limits=1, user_api="openmp"):
            raw = self.trees.predict_proba(self._dense(features))
        trees = self._columns(raw, self.trees.classes_)
        weight = self.config.trees_weight
        return (1 - weight) * linear + weight * trees

    def raw_proba(self, features: CaseFeatures) -> np.ndarray:
        """Learned models mixed with the rule prior, before calibration."""
        weight = self.config.rule_weight
        mixed = (1 - weight) * self.model_proba(features) + weight * rule_prior(features)
        return mixed / mixed.sum(axis=1, keepdims=True)

    def predict_proba(self, features: CaseFeatures) -> np.ndarray:
        """Calibrated probabilities, columns in SUBCATEGORIES order."""
        return calibrate(self.raw_proba(features), self.config.temperature)


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: p ** (1 / T), renormalised."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)
