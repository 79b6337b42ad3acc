"""Train the learned part of triage from the labelled cases in `training/cases/*.jsonl`.

Before anything is fitted, every training case is checked against the held-out sets (the dev
yardstick in `../shared/triage/dev.jsonl`, the sealed set in `app/triage/sealed/`, and any file
passed with `--exclude`): a near copy stops training and names both lines.

Model choice is made on out-of-fold probabilities only, never on a held-out set. Folds are
grouped two ways: by application (metadata `app`; unseen applications) and by writer (one fold
per writer: cases written by someone else). The mixing weights of the linear model, the boosted
trees and the rule prior are chosen on the mean of the two; the temperature and the review
threshold are then fitted on the writer-grouped out-of-fold probabilities, the harsher of the two.
`search=True` also searches the embedded fields, the regularisation and the embedding scale.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from app.cases.schemas import SUBCATEGORIES, LabelledCase
from app.triage.artefact import DEFAULT_MODEL_DIR, Manifest, save_artefact
from app.triage.case_files import CaseFileError, read_case_file
from app.triage.classifier import ModelConfig, TriageClassifier, calibrate, rule_prior
from app.triage.decision import decide_labels
from app.triage.embedding import DEFAULT_PRECISION, Embedder, load_embedder
from app.triage.features import CaseFeatures, build_features
from app.triage.neighbours import NeighbourIndex
from app.triage.training import calibration
from app.triage.training.leakage import DEFAULT_THRESHOLD, check_no_near_copies

log = logging.getLogger(__name__)

DEFAULT_CASES_DIR = Path(__file__).resolve().parent / "cases"
_REPO = Path(__file__).resolve().parents[3]
DEV_SET = _REPO.parent / "shared" / "triage" / "dev.jsonl"
SEALED_SET = _REPO / "app" / "triage" / "sealed" / "cases.jsonl"
DEFAULT_CONFIG = ModelConfig()
SEARCH_FIELDS: tuple[tuple[str, ...], ...] = (
    ("feedback", "output"),
    ("feedback", "output", "expected"),
    ("feedback", "output", "input", "expected", "context"),
)
SEARCH_C = (0.1, 0.3)
SEARCH_EMBED_SCALE = (3.0, 5.0, 7.0, 10.0)
MIX_TREES_WEIGHT = (0.0, 0.2, 0.4, 0.6, 0.8)
MIX_RULE_WEIGHT = (0.0, 0.05, 0.1, 0.2)

ProgressFn = Callable[[str, int, int], None]


class TrainingDataError(ValueError):
    """The training cases are missing or unusable."""


@dataclass(frozen=True)
class TrainingSet:
    cases: list[LabelledCase]
    groups: list[str]
    sha256: str
    files: list[str]
    authors: list[str]
    origins: list[str]  # the file stem of each case
    lines: list[str]  # "file.jsonl:line" of each case

    def sources(self) -> dict[str, Any]:
        """Cases per writer and, for transcribed real reports, per file and source host."""
        real = [i for i, origin in enumerate(self.origins) if origin.startswith("real_")]
        hosts = Counter(
            urlparse(str(self.cases[i].case.metadata.get("url", ""))).hostname or "(no url)"
            for i in real
        )
        return {
            "by_writer": dict(sorted(Counter(self.authors).items())),
            "real_reports": {
                "cases": len(real),
                "with_url": sum(1 for i in real if self.cases[i].case.metadata.get("url")),
                "by_file": dict(sorted(Counter(self.origins[i] for i in real).items())),
                "top_hosts": dict(hosts.most_common(10)),
            },
        }

    def weights(self, config: ModelConfig) -> np.ndarray:
        """Sample weights: `config.real_weight` for transcribed real reports, 1 otherwise."""
        return np.array(
            [config.real_weight if o.startswith("real_") else 1.0 for o in self.origins]
        )

    def named_cases(self) -> list[tuple[str, Any]]:
        return [(name, c.case) for name, c in zip(self.lines, self.cases, strict=True)]


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
    origins: list[str] = []
    lines: list[str] = []
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for record in read_case_file(path):
            if record.label is None:
                raise CaseFileError(path, record.line, "training cases need a 'label'")
            cases.append(LabelledCase(case=record.case, label=record.label))
            app = str(record.case.metadata.get("app") or "").strip().lower()
            groups.append(app or f"{path.name}:{record.line}")
            authors.append(author_of(path))
            origins.append(path.stem)
            lines.append(f"{path.name}:{record.line}")
    return TrainingSet(
        cases=cases,
        groups=groups,
        sha256=digest.hexdigest(),
        files=[f.name for f in files],
        authors=authors,
        origins=origins,
        lines=lines,
    )


def _scores(probs: np.ndarray, labels: Sequence[LabelledCase]) -> dict[str, float]:
    decided = decide_labels(probs, [c.case.attempted for c in labels])
    true_sub = [c.label.subcategory for c in labels]
    pred_sub = [d[1] for d in decided]
    return {
        "category_accuracy": float(
            np.mean([d[0] == c.label.category for d, c in zip(decided, labels, strict=True)])
        ),
        # over every label that is true or predicted: predicting a class that never occurs costs
        "subcategory_macro_f1": float(
            f1_score(
                true_sub,
                pred_sub,
                labels=sorted(set(true_sub) | set(pred_sub)),
                average="macro",
                zero_division=0,
            )
        ),
        "subcategory_accuracy": float(
            np.mean([a == b for a, b in zip(true_sub, pred_sub, strict=True)])
        ),
        "fix_accuracy": float(
            np.mean([d[2] == c.label.fix for d, c in zip(decided, labels, strict=True)])
        ),
    }


def _with_mean(scores: dict[str, float]) -> dict[str, float]:
    scores["mean"] = (
        scores["category_accuracy"] + scores["subcategory_macro_f1"] + scores["fix_accuracy"]
    ) / 3
    return scores


@dataclass
class OutOfFold:
    """Out-of-fold probabilities of each part of the model, to mix without refitting."""

    linear: np.ndarray
    trees: np.ndarray
    rules: np.ndarray

    def mix(self, config: ModelConfig) -> np.ndarray:
        model = (1 - config.trees_weight) * self.linear + config.trees_weight * self.trees
        mixed = (1 - config.rule_weight) * model + config.rule_weight * self.rules
        return calibrate(mixed / mixed.sum(axis=1, keepdims=True), config.temperature)


def _splits(training: TrainingSet, *, folds: int, by_author: bool) -> list[tuple[Any, Any]]:
    labels = [c.label.subcategory for c in training.cases]
    if by_author:
        splitter = GroupKFold(n_splits=len(set(training.authors)))
        return list(splitter.split(np.zeros(len(labels)), labels, training.authors))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    return list(splitter.split(np.zeros(len(labels)), labels, training.groups))


def out_of_fold(
    *,
    config: ModelConfig,
    features: CaseFeatures,
    training: TrainingSet,
    folds: int = 5,
    by_author: bool = False,
    progress: ProgressFn | None = None,
) -> OutOfFold:
    """Out-of-fold probabilities of the linear model, the trees and the rule prior: folds
    grouped by application, or one fold per author (`by_author`)."""
    labels = [c.label.subcategory for c in training.cases]
    fit_config = replace(config, trees_weight=max(config.trees_weight, 1e-6))
    n = len(labels)
    oof = OutOfFold(np.zeros((n, 8)), np.zeros((n, 8)), rule_prior(features))
    splits = _splits(training, folds=folds, by_author=by_author)
    stage = "cv by writer" if by_author else "cv by app"
    for index, (train_idx, test_idx) in enumerate(splits):
        clf = TriageClassifier(config=fit_config).fit(
            features.subset(train_idx),
            [labels[i] for i in train_idx],
            sample_weight=training.weights(config)[train_idx],
        )
        held = features.subset(test_idx)
        oof.linear[test_idx] = clf.linear_proba(held)
        assert clf.trees is not None
        oof.trees[test_idx] = clf._columns(
            clf.trees.predict_proba(clf._dense(held)), clf.trees.classes_
        )
        if progress is not None:
            progress(stage, index + 1, len(splits))
    return oof


def cross_validate(
    *,
    config: ModelConfig,
    features: CaseFeatures,
    training: TrainingSet,
    folds: int = 5,
    by_author: bool = False,
) -> dict[str, float]:
    """Out-of-fold scores of `config` (see `out_of_fold`)."""
    oof = out_of_fold(
        config=config, features=features, training=training, folds=folds, by_author=by_author
    )
    return _with_mean(_scores(oof.mix(config), training.cases))


def choose_mix(
    *, base: ModelConfig, by_app: OutOfFold, by_writer: OutOfFold, training: TrainingSet
) -> tuple[ModelConfig, list[dict[str, Any]]]:
    """The trees and rule weights with the best mean of app- and writer-grouped CV scores."""
    trials: list[dict[str, Any]] = []
    for trees_weight, rule_weight in itertools.product(MIX_TREES_WEIGHT, MIX_RULE_WEIGHT):
        config = replace(base, trees_weight=trees_weight, rule_weight=rule_weight)
        app = _with_mean(_scores(by_app.mix(config), training.cases))["mean"]
        writer = _with_mean(_scores(by_writer.mix(config), training.cases))["mean"]
        trials.append(
            {
                "trees_weight": trees_weight,
                "rule_weight": rule_weight,
                "cv_by_app_mean": round(app, 4),
                "cv_by_writer_mean": round(writer, 4),
                "mean": round((app + writer) / 2, 4),
            }
        )
    best = max(trials, key=lambda t: (t["mean"], -t["trees_weight"], -t["rule_weight"]))
    chosen = replace(base, trees_weight=best["trees_weight"], rule_weight=best["rule_weight"])
    return chosen, sorted(trials, key=lambda t: -t["mean"])


def search_config(
    *,
    features: CaseFeatures,
    training: TrainingSet,
    base: ModelConfig = DEFAULT_CONFIG,
    folds: int = 5,
) -> tuple[ModelConfig, dict[str, float], list[dict[str, Any]]]:
    """The best fields / regularisation / embedding scale by app-grouped cross-validation."""
    trials: list[dict[str, Any]] = []
    best: tuple[ModelConfig, dict[str, float]] | None = None
    for fields, c, scale in itertools.product(SEARCH_FIELDS, SEARCH_C, SEARCH_EMBED_SCALE):
        config = replace(base, fields=fields, c=c, embed_scale=scale)
        scores = cross_validate(config=config, features=features, training=training, folds=folds)
        trials.append({"config": config.as_dict(), **scores})
        log.info("cv %s -> %.3f", config, scores["mean"])
        if best is None or scores["mean"] > best[1]["mean"]:
            best = (config, scores)
    assert best is not None
    return best[0], best[1], trials


_FEATURE_CODE = (
    "signals.py",  # or the signals/ package, whichever exists
    "signals",
    "lexicons.py",
    "text_facts.py",
    "features.py",
    "alignment.py",
    "embedding.py",
)


def features_cache_key(
    training: TrainingSet, fields: Sequence[str], precision: str = DEFAULT_PRECISION
) -> str:
    """Names the features of these cases under this feature code and embedding precision (any
    change: a new key)."""
    digest = hashlib.sha256(f"{training.sha256}|{','.join(fields)}|{precision}".encode())
    triage_dir = Path(__file__).resolve().parents[1]
    for name in _FEATURE_CODE:
        path = triage_dir / name
        sources = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
        for source in sources:
            digest.update(source.relative_to(triage_dir).as_posix().encode())
            digest.update(source.read_bytes())
    return f"triage-features-{digest.hexdigest()[:16]}.pkl"


def training_features(
    training: TrainingSet,
    *,
    embedder: Embedder | None,
    fields: Sequence[str],
    cache_dir: Path | None,
) -> CaseFeatures:
    """The features of the training cases, from `cache_dir` when this data and code made them
    before (embedding ~3,000 cases takes minutes on 2 CPUs; the model fits take seconds)."""
    embedder = embedder or load_embedder()
    key = features_cache_key(training, fields, embedder.precision)
    path = cache_dir / key if cache_dir else None
    if path is not None and path.is_file():
        with path.open("rb") as handle:
            cached = pickle.load(handle)  # our own cache file, written below
        if isinstance(cached, CaseFeatures) and len(cached.reports) == len(training.cases):
            log.info("features from %s", path)
            return cached
    features = build_features([c.case for c in training.cases], embedder=embedder, fields=fields)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as handle:
            pickle.dump(features, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
    return features


def _writer_folds_fit(training: TrainingSet) -> bool:
    """Leaving one writer out needs three writers or more, and two labels left in every fold."""
    authors = set(training.authors)
    if len(authors) < 3:
        return False
    return all(
        len(
            {
                c.label.subcategory
                for c, a in zip(training.cases, training.authors, strict=True)
                if a != author
            }
        )
        >= 2
        for author in authors
    )


def held_out_files(exclude: Sequence[Path] = ()) -> list[Path]:
    """The held-out sets a training case must not nearly copy (those that exist here)."""
    return [p for p in (DEV_SET, SEALED_SET, *exclude) if p.exists()]


def _figures(probs: np.ndarray, cases: Sequence[LabelledCase]) -> dict[str, float]:
    """Rounded CV figures (and their mean) of `probs` against the cases' labels."""
    return {k: round(v, 4) for k, v in _with_mean(_scores(probs, cases)).items()}


def _review(
    *, config: ModelConfig, by_writer: OutOfFold, labels: Sequence[str], fitted_on: str
) -> dict[str, Any]:
    """Calibration figures and the needs_review operating point, from out-of-fold cases."""
    probs = by_writer.mix(config)
    curve = calibration.risk_coverage(probs, labels)
    uncalibrated = by_writer.mix(replace(config, temperature=1.0))
    return {
        "fitted_on": fitted_on,
        "temperature": config.temperature,
        "ece_before": round(calibration.expected_calibration_error(uncalibrated, labels), 4),
        "ece_after": round(calibration.expected_calibration_error(probs, labels), 4),
        "operating_point": calibration.choose_threshold(curve),
        "target": {
            "category_accuracy": calibration.TARGET_CATEGORY_ACCURACY,
            "max_flagged": calibration.MAX_FLAGGED,
        },
        "curve": curve,
    }


def _choose_and_calibrate(
    *,
    config: ModelConfig,
    features: CaseFeatures,
    training: TrainingSet,
    folds: int,
    by_writers: bool,
    progress: ProgressFn | None,
) -> tuple[ModelConfig, dict[str, Any], dict[str, Any]]:
    """Cross-validate grouped by app (and by writer), choose the mix, fit the temperature and
    the review threshold; returns the config, the CV figures and the review record."""
    labels = [c.label.subcategory for c in training.cases]
    by_app = out_of_fold(
        config=config, features=features, training=training, folds=folds, progress=progress
    )
    by_writer = by_app
    if by_writers:
        by_writer = out_of_fold(
            config=config, features=features, training=training, by_author=True, progress=progress
        )
    config, mix_trials = choose_mix(
        base=replace(config, temperature=1.0), by_app=by_app, by_writer=by_writer, training=training
    )
    config = replace(config, temperature=calibration.fit_temperature(by_writer.mix(config), labels))
    cv: dict[str, Any] = {
        "folds": folds,
        "grouping": "metadata.app",
        **_figures(by_app.mix(config), training.cases),
    }
    if by_writers:
        writer_probs = by_writer.mix(config)
        cv["leave_one_author_out"] = {
            "authors": sorted(set(training.authors)),
            **_figures(writer_probs, training.cases),
        }
        real = [i for i, o in enumerate(training.origins) if o.startswith("real_")]
        if real:
            cv["real_reports_by_writer_fold"] = {
                "cases": len(real),
                **_figures(writer_probs[real], [training.cases[i] for i in real]),
            }
    cv["mix"] = mix_trials[:5]
    fitted_on = "writer" if by_writers else "app"
    review = _review(
        config=config,
        by_writer=by_writer,
        labels=labels,
        fitted_on=f"{fitted_on}-grouped out-of-fold probabilities",
    )
    return config, cv, review


def train(
    *,
    cases_dir: Path = DEFAULT_CASES_DIR,
    model_dir: Path = DEFAULT_MODEL_DIR,
    config: ModelConfig = DEFAULT_CONFIG,
    search: bool = False,
    embedder: Embedder | None = None,
    exclude: Sequence[Path] = (),
    max_similarity: float = DEFAULT_THRESHOLD,
    progress: ProgressFn | None = None,
    cache_dir: Path | None = None,
) -> Manifest:
    """Check for leaks, cross-validate, choose the mix, calibrate, fit on every training case and
    write a versioned artefact."""
    training = load_training_set(cases_dir)
    counts = Counter(c.label.subcategory for c in training.cases)
    if len(counts) < 2:
        raise TrainingDataError(f"training needs at least two subcategories, found {dict(counts)}")
    missing = [p for p in exclude if not p.exists()]
    if missing:
        raise TrainingDataError(f"--exclude file not found: {', '.join(map(str, missing))}")
    held_out = held_out_files(exclude)
    check_no_near_copies(training.named_cases(), held_out, threshold=max_similarity)
    groups = (*SEARCH_FIELDS, config.fields) if search else (config.fields,)
    fields = sorted({f for group in groups for f in group})
    if progress is not None:
        progress("features", 0, 1)
    embedder = embedder or load_embedder(precision=config.embedding_precision)
    config = replace(config, embedding_precision=embedder.precision)
    features = training_features(training, embedder=embedder, fields=fields, cache_dir=cache_dir)
    if progress is not None:
        progress("features", 1, 1)
    labels = [c.label.subcategory for c in training.cases]
    folds = min(5, min(counts.values()), len(set(training.groups)))
    cv: dict[str, Any] = {"folds": 0, "grouping": "metadata.app"}
    review: dict[str, Any] = {}
    if folds >= 2:
        search_trials: list[dict[str, Any]] = []
        if search:
            config, _, search_trials = search_config(
                features=features, training=training, base=config, folds=folds
            )
        config, cv, review = _choose_and_calibrate(
            config=config,
            features=features,
            training=training,
            folds=folds,
            by_writers=_writer_folds_fit(training),
            progress=progress,
        )
        if search_trials:
            cv["search"] = sorted(search_trials, key=lambda t: -t["mean"])[:5]
    if progress is not None:
        progress("final fit", 0, 1)
    classifier = TriageClassifier(config=config).fit(
        features, labels, sample_weight=training.weights(config)
    )
    classifier.neighbours = NeighbourIndex.build([c.case for c in training.cases], labels, features)
    if progress is not None:
        progress("final fit", 1, 1)
    return save_artefact(
        classifier=classifier,
        model_dir=model_dir,
        training_data_sha256=training.sha256,
        counts=dict(sorted(counts.items())),
        cv=cv,
        review=review,
        sources=training.sources(),
        held_out_checked=[p.name for p in held_out],
    )


__all__ = ["SUBCATEGORIES", "TrainingDataError", "train"]
