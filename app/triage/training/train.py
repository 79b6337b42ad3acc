"""Train the learned part of triage from the labelled cases in `training/cases/*.jsonl`.

Cross-validation groups cases by application (metadata `app`, else the file) so that scores
reflect unseen applications, as in production. `search=True` runs a small grid over the
embedded fields, the regularisation, the rule-prior weight and the embedding scale and keeps the
best mean of category accuracy, subcategory macro-F1 and fix accuracy.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from app.cases.schemas import LabelledCase
from app.triage.artefact import DEFAULT_MODEL_DIR, Manifest, save_artefact
from app.triage.case_files import CaseFileError, read_case_file
from app.triage.classifier import ModelConfig, TriageClassifier
from app.triage.decision import decide_labels
from app.triage.embedding import Embedder, load_embedder
from app.triage.features import CaseFeatures, build_features

log = logging.getLogger(__name__)

DEFAULT_CASES_DIR = Path(__file__).resolve().parent / "cases"
DEFAULT_CONFIG = ModelConfig()
SEARCH_FIELDS: tuple[tuple[str, ...], ...] = (
    ("feedback", "output"),
    ("feedback", "output", "expected"),
    ("feedback", "output", "input", "expected", "context"),
)
SEARCH_C = (0.1, 0.3)
SEARCH_RULE_WEIGHT = (0.1, 0.2)
SEARCH_EMBED_SCALE = (3.0, 5.0, 7.0, 10.0)


class TrainingDataError(ValueError):
    """The training cases are missing or unusable."""


@dataclass(frozen=True)
class TrainingSet:
    cases: list[LabelledCase]
    groups: list[str]
    sha256: str
    files: list[str]
    authors: list[str]


def author_of(path: Path) -> str:
    """The author prefix of a training file name: `writer_a_style.jsonl` -> `writer_a`,
    `engine_messy.jsonl` -> `engine`."""
    tokens = path.stem.split("_")
    if len(tokens) > 1 and len(tokens[1]) == 1:
        return "_".join(tokens[:2])
    return tokens[0]


def load_training_set(cases_dir: Path = DEFAULT_CASES_DIR) -> TrainingSet:
    """Every labelled case under `cases_dir` (sorted by file name) and a hash of the data."""
    files = sorted(cases_dir.glob("*.jsonl"))
    if not files:
        raise TrainingDataError(f"no *.jsonl training files in {cases_dir}")
    digest = hashlib.sha256()
    cases: list[LabelledCase] = []
    groups: list[str] = []
    authors: list[str] = []
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for record in read_case_file(path):
            if record.label is None:
                raise CaseFileError(path, record.line, "training cases need a 'label'")
            cases.append(LabelledCase(case=record.case, label=record.label))
            app = str(record.case.metadata.get("app") or "").strip().lower()
            groups.append(app or f"{path.name}:{record.line}")
            authors.append(author_of(path))
    return TrainingSet(
        cases=cases,
        groups=groups,
        sha256=digest.hexdigest(),
        files=[f.name for f in files],
        authors=authors,
    )


def _scores(probs: np.ndarray, labels: Sequence[LabelledCase]) -> dict[str, float]:
    decided = decide_labels(probs, [c.case.attempted for c in labels])
    true_sub = [c.label.subcategory for c in labels]
    pred_sub = [d[1] for d in decided]
    return {
        "category_accuracy": float(
            np.mean([d[0] == c.label.category for d, c in zip(decided, labels, strict=True)])
        ),
        "subcategory_macro_f1": float(
            f1_score(true_sub, pred_sub, average="macro", zero_division=0)
        ),
        "subcategory_accuracy": float(
            np.mean([a == b for a, b in zip(true_sub, pred_sub, strict=True)])
        ),
        "fix_accuracy": float(
            np.mean([d[2] == c.label.fix for d, c in zip(decided, labels, strict=True)])
        ),
    }


def cross_validate(
    *,
    config: ModelConfig,
    features: CaseFeatures,
    training: TrainingSet,
    folds: int = 5,
    by_author: bool = False,
) -> dict[str, float]:
    """Out-of-fold scores of `config`: folds grouped by application, or one fold per author
    (`by_author`, leave-one-author-out: how well it carries to cases written by someone else)."""
    labels = [c.label.subcategory for c in training.cases]
    if by_author:
        splits = GroupKFold(n_splits=len(set(training.authors))).split(
            np.zeros(len(labels)), labels, training.authors
        )
    else:
        splits = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0).split(
            np.zeros(len(labels)), labels, training.groups
        )
    probs = np.zeros((len(labels), 8))
    for train_idx, test_idx in splits:
        clf = TriageClassifier(config=config).fit(
            features.subset(train_idx), [labels[i] for i in train_idx]
        )
        probs[test_idx] = clf.predict_proba(features.subset(test_idx))
    scores = _scores(probs, training.cases)
    scores["mean"] = (
        scores["category_accuracy"] + scores["subcategory_macro_f1"] + scores["fix_accuracy"]
    ) / 3
    return scores


def search_config(
    *,
    features: CaseFeatures,
    training: TrainingSet,
    base: ModelConfig = DEFAULT_CONFIG,
    folds: int = 5,
) -> tuple[ModelConfig, dict[str, float], list[dict[str, Any]]]:
    """The best configuration of the grid by grouped cross-validation."""
    trials: list[dict[str, Any]] = []
    best: tuple[ModelConfig, dict[str, float]] | None = None
    grid = itertools.product(SEARCH_FIELDS, SEARCH_C, SEARCH_RULE_WEIGHT, SEARCH_EMBED_SCALE)
    for fields, c, weight, scale in grid:
        config = replace(base, fields=fields, c=c, rule_weight=weight, embed_scale=scale)
        scores = cross_validate(config=config, features=features, training=training, folds=folds)
        trials.append({"config": config.as_dict(), **scores})
        log.info("cv %s -> %.3f", config, scores["mean"])
        if best is None or scores["mean"] > best[1]["mean"]:
            best = (config, scores)
    assert best is not None
    return best[0], best[1], trials


def train(
    *,
    cases_dir: Path = DEFAULT_CASES_DIR,
    model_dir: Path = DEFAULT_MODEL_DIR,
    config: ModelConfig = DEFAULT_CONFIG,
    search: bool = False,
    embedder: Embedder | None = None,
) -> Manifest:
    """Fit on every training case, cross-validate, and write a versioned artefact."""
    training = load_training_set(cases_dir)
    counts = Counter(c.label.subcategory for c in training.cases)
    if len(counts) < 2:
        raise TrainingDataError(f"training needs at least two subcategories, found {dict(counts)}")
    embedder = embedder or load_embedder()
    groups = (*SEARCH_FIELDS, config.fields) if search else (config.fields,)
    fields = sorted({f for group in groups for f in group})
    features = build_features([c.case for c in training.cases], embedder=embedder, fields=fields)
    trials: list[dict[str, Any]] = []
    folds = min(5, min(counts.values()), len(set(training.groups)))
    scores: dict[str, float] = {}
    if folds >= 2 and search:
        config, scores, trials = search_config(
            features=features, training=training, base=config, folds=folds
        )
    elif folds >= 2:
        scores = cross_validate(config=config, features=features, training=training, folds=folds)
    classifier = TriageClassifier(config=config).fit(
        features, [c.label.subcategory for c in training.cases]
    )
    cv: dict[str, Any] = {
        "folds": folds if folds >= 2 else 0,
        "grouping": "metadata.app",
        **{k: round(v, 4) for k, v in scores.items()},
    }
    if len(set(training.authors)) >= 2 and folds >= 2:
        by_author = cross_validate(
            config=config, features=features, training=training, by_author=True
        )
        cv["leave_one_author_out"] = {
            "authors": sorted(set(training.authors)),
            **{k: round(v, 4) for k, v in by_author.items()},
        }
    if trials:
        cv["search"] = sorted(trials, key=lambda t: -t["mean"])[:5]
    return save_artefact(
        classifier=classifier,
        model_dir=model_dir,
        training_data_sha256=training.sha256,
        counts=dict(sorted(counts.items())),
        cv=cv,
    )
