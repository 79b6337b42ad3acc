"""The triage engine: explainable signals, token alignment between fields and a learned,
calibrated model over both and the fields' sentence embeddings.

    engine = load_engine()                      # cached; loads the embedding model once
    results = engine.triage(cases)              # list[TriageResult], in input order
    results = engine.triage(cases, second_opinion=llm, probe=base_model)

`engine.version` is `rung-triage/<code version>+<artefact version>`; the artefact version
holds the first 12 hex digits of the artefact's sha256, so it changes whenever the model is
retrained and stored cases can be re-triaged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from langchain_core.language_models import BaseChatModel

from app.cases.schemas import FailureCase
from app.triage import alignment, knowledge_probe, second_opinion
from app.triage.artefact import DEFAULT_MODEL_DIR, Manifest, load_artefact
from app.triage.classifier import TriageClassifier
from app.triage.decision import ReviewPolicy, decide
from app.triage.embedding import Embedder, load_embedder
from app.triage.features import build_features
from app.triage.neighbours import place
from app.triage.result import TriageResult
from app.triage.signals import compute_signals

log = logging.getLogger(__name__)

ENGINE_CODE_VERSION = "1"


@dataclass
class TriageStats:
    """Counters over the engine's lifetime (second opinions and probes are optional)."""

    cases: int = 0
    second_opinions: int = 0
    second_opinion_unparseable: int = 0
    second_opinion_errors: int = 0
    probes: int = 0
    probe_errors: int = 0
    needs_review: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class TriageEngine:
    """Decides category, subcategory, fix, confidence and evidence for failure cases."""

    version: str

    def __init__(
        self,
        *,
        classifier: TriageClassifier,
        manifest: Manifest,
        embedder: Embedder,
        policy: ReviewPolicy | None = None,
    ) -> None:
        self.classifier = classifier
        self.manifest = manifest
        self.embedder = embedder
        self.policy = policy or review_policy(manifest)
        self.version = f"rung-triage/{ENGINE_CODE_VERSION}+{manifest.version}"
        self.stats = TriageStats()

    def triage(
        self,
        cases: Sequence[FailureCase],
        *,
        second_opinion: BaseChatModel | None = None,
        probe: BaseChatModel | None = None,
    ) -> list[TriageResult]:
        """Triage `cases` (embeddings batched over the whole sequence), in input order."""
        if not cases:
            return []
        reports = [compute_signals(case) for case in cases]
        features = build_features(
            cases, embedder=self.embedder, fields=self.classifier.config.fields, reports=reports
        )
        probabilities = self.classifier.predict_proba(features)
        align_names = alignment.feature_names()
        examples: list[list[tuple[str, str]]] = [[] for _ in cases]
        if second_opinion is not None and self.classifier.neighbours is not None:
            examples = self.classifier.neighbours.nearest(place(features))
        results: list[TriageResult] = []
        for index, case in enumerate(cases):
            row = probabilities[index]
            extra: list[str] = []
            if probe is not None:
                row, note = self._probe(probe, case, row)
                extra.extend(note)
            if second_opinion is not None:
                row, note = self._second_opinion(second_opinion, case, row, examples[index])
                extra.extend(note)
            result = decide(
                probs=row,
                report=reports[index],
                attempted=case.attempted,
                engine_version=self.version,
                policy=self.policy,
                comparisons=alignment.describe(
                    dict(zip(align_names, features.alignment[index].tolist(), strict=True))
                )
                or [_fields_given(case)],
                extra_evidence=extra,
            )
            results.append(result)
        self.stats.add(cases=len(cases), needs_review=sum(r.needs_review for r in results))
        return results

    def _probe(
        self, model: BaseChatModel, case: FailureCase, row: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        try:
            outcome = knowledge_probe.probe_case(model, case)
        except Exception as exc:
            log.warning("knowledge probe failed: %s", exc)
            self.stats.add(probe_errors=1)
            return row, []
        if outcome is None:
            return row, []
        self.stats.add(probes=1)
        return knowledge_probe.apply_probe(row, outcome), [outcome.evidence()]

    def _second_opinion(
        self,
        model: BaseChatModel,
        case: FailureCase,
        row: np.ndarray,
        examples: Sequence[tuple[str, str]] = (),
    ) -> tuple[np.ndarray, list[str]]:
        try:
            opinion = second_opinion.ask(model, case, examples=examples)
        except second_opinion.UnparseableOpinionError as exc:
            log.info("second opinion ignored: %s", exc)
            self.stats.add(second_opinion_unparseable=1)
            return row, []
        except Exception as exc:
            log.warning("second opinion failed: %s", exc)
            self.stats.add(second_opinion_errors=1)
            return row, []
        self.stats.add(second_opinions=1)
        weight = second_opinion.weight_for(row, opinion)
        note = (
            f"the LLM reads this as {opinion.subcategory.replace('_', ' ')} "
            f"(confidence {opinion.confidence:.2f}, weight {weight:.2f}, "
            f"{len(examples)} labelled examples)"
        )
        return second_opinion.combine(row, opinion, weight=weight), [note]


def _fields_given(case: FailureCase) -> str:
    """A checkable line for a case with nothing to compare: which fields were reported."""
    given = [
        name
        for name, value in (
            ("feedback", case.feedback),
            ("expected answer", case.expected),
            ("context", case.context),
            ("source", case.source),
        )
        if value
    ]
    return "reported: input and output" + (
        f", {', '.join(given)}" if given else " only (no expected answer, context or feedback)"
    )


def review_policy(manifest: Manifest) -> ReviewPolicy:
    """The review threshold fitted at training time (the default for older artefacts)."""
    point = manifest.review.get("operating_point") or {}
    threshold = point.get("threshold")
    return ReviewPolicy(threshold=float(threshold)) if threshold is not None else ReviewPolicy()


_engines: dict[tuple[str, str], TriageEngine] = {}
_engines_lock = threading.Lock()


def load_engine(model_dir: Path | None = None) -> TriageEngine:
    """The engine for `model_dir` (default: the artefact shipped in `app/triage/model/`).

    Cached per folder and artefact hash: a retrained artefact gives a new engine; the
    embedding model is loaded once per process.
    """
    folder = (model_dir or DEFAULT_MODEL_DIR).resolve()
    classifier, manifest = load_artefact(folder)
    key = (str(folder), manifest.artefact_sha256)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = TriageEngine(
                classifier=classifier,
                manifest=manifest,
                embedder=load_embedder(precision=classifier.config.embedding_precision),
            )
            _engines[key] = engine
        return engine
